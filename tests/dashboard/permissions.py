"""The permission matrix every coordinator page is held to.

- anonymous: redirected to the login page (GET and POST alike);
- an approved cell member: 404;
- a coordinator of another organisation: 404 for records of this one;
- a coordinator of the same organisation who does not coordinate the case:
  404 for that case's pages.

Pages without record ids (lists, "new" forms) are open to any coordinator, so
for them the other organisation's coordinator must get a page that shows none
of this organisation's records instead.
"""

from __future__ import annotations

from django.urls import reverse

from tests.conftest import vault_login
from tests.factories import OrganisationFactory

METHODS = ("get", "post")


def _login_url() -> str:
    return reverse("members:login")


def assert_anonymous_sent_to_login(client, urls) -> None:
    client.logout()
    for url in urls:
        for method in METHODS:
            response = getattr(client, method)(url)
            assert response.status_code == 302, (method, url, response.status_code)
            assert response["Location"].startswith(_login_url()), (method, url)


def assert_not_found_for(client, member, keyring, urls) -> None:
    client.logout()
    vault_login(client, member, keyring)
    for url in urls:
        for method in METHODS:
            response = getattr(client, method)(url)
            assert response.status_code == 404, (member.handle, method, url, response.status_code)


def assert_matrix(
    client,
    world,
    *,
    record_urls=(),
    open_urls=(),
    other_case_urls=(),
    secrets=("Camellia",),
) -> None:
    """Run the whole matrix. ``record_urls`` name records of ``world``'s
    organisation; ``open_urls`` are lists and forms any coordinator may open;
    ``other_case_urls`` are pages of ``world.other_case``, which ``world.coord2``
    does not coordinate."""
    record_urls, open_urls, other_case_urls = (
        list(record_urls),
        list(open_urls),
        list(other_case_urls),
    )
    everything = record_urls + open_urls + other_case_urls
    assert everything, "the matrix needs at least one URL"

    assert_anonymous_sent_to_login(client, everything)

    cell_member, cell_ring = world.member(0)
    assert_not_found_for(client, cell_member, cell_ring, everything)

    other = OrganisationFactory()
    assert_not_found_for(client, other.founder, other.keyring, record_urls + other_case_urls)
    for url in open_urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        body = response.content.decode()
        for secret in secrets:
            assert secret not in body, (url, secret)

    if other_case_urls:
        assert_not_found_for(client, world.coord2, world.coord2_keyring, other_case_urls)

    # Positive control: the organisation's coordinator opens every page.
    client.logout()
    vault_login(client, world.coord, world.coord_keyring)
    for url in everything:
        response = client.get(url)
        assert response.status_code in (200, 302), (url, response.status_code)
        if response.status_code == 302:
            assert not response["Location"].startswith(_login_url()), url
