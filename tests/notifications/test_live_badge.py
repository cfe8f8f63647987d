"""The notification badge refreshes itself where scripts run, and works without them."""

from django.urls import reverse


def test_the_header_badge_polls_its_own_fragment(client, world, login):
    login(world.coord)
    page = client.get(reverse("dashboard:home")).content.decode()
    badge_url = reverse("notifications:badge")
    assert f'hx-get="{badge_url}"' in page
    assert 'hx-swap="outerHTML"' in page
    assert '<script src="/static/vendor/htmx-2.0.11.min.js" defer></script>' in page
    fragment = client.get(badge_url)
    assert fragment.status_code == 200
    body = fragment.content.decode()
    # The fragment replaces the badge in place: same element, same polling.
    assert body.startswith('<a class="notify-badge') and 'id="notify-badge"' in body
    assert f'hx-get="{badge_url}"' in body


def test_the_vendored_htmx_is_served(client):
    from django.contrib.staticfiles import finders

    assert finders.find("vendor/htmx-2.0.11.min.js")
    assert finders.find("vendor/htmx-LICENSE.txt")
