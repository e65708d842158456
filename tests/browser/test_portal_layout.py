"""The portal's layout at common laptop widths: the admin's navigation stays on one line."""

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Role
from tests.browser.conftest import require_chromium, screenshot
from tests.factories import make_user

require_chromium()

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in_as(page, live_server, user) -> None:
    """Give the browser the session of `user` (an admin signs in with a second factor)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def header_rows(page) -> dict[str, object]:
    """The vertical positions of the header's parts, to tell one line from several."""
    return page.evaluate(
        """() => {
          const top = (el) => Math.round(el.getBoundingClientRect().top);
          const items = [...document.querySelectorAll('nav[aria-label="Main"] li')];
          const bar = document.querySelector('.topbar');
          return {
            items: items.map((li) => li.textContent.trim()),
            item_tops: [...new Set(items.map(top))],
            brand_top: top(document.querySelector('.brand')),
            nav_height: Math.round(document.querySelector('nav[aria-label="Main"]').getBoundingClientRect().height),
            item_height: Math.round(items[0].getBoundingClientRect().height),
            bar_height: Math.round(bar.getBoundingClientRect().height),
            who_top: top(document.querySelector('.topbar .who')),
            overflow: bar.scrollWidth > bar.clientWidth,
          };
        }"""
    )


@pytest.mark.parametrize("width", [1366, 1280])
def test_the_admins_navigation_fits_on_one_line_at_laptop_widths(page, live_server, width):
    admin = make_user(Role.ADMIN, mfa=True)
    signed_in_as(page, live_server, admin)
    page.set_viewport_size({"width": width, "height": 768})

    page.goto("/staff/users/")

    rows = header_rows(page)
    screenshot(page, f"portal-admin-nav-{width}")
    assert "Users & roles" in rows["items"] and "Audit trail" in rows["items"], rows
    assert len(rows["item_tops"]) == 1, rows  # every link on one line
    assert rows["nav_height"] <= rows["item_height"] + 4, rows
    assert rows["who_top"] <= rows["item_tops"][0] + rows["item_height"], rows  # same row
    assert not rows["overflow"], rows


def test_the_account_menu_opens_with_the_persons_links_inside_the_window(page, live_server):
    admin = make_user(Role.ADMIN, mfa=True)
    signed_in_as(page, live_server, admin)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto("/staff/users/")

    page.click(".topbar .who summary")

    menu = page.locator(".who-menu")
    screenshot(page, "portal-account-menu-1366")
    assert menu.get_by_role("link", name=admin.email).is_visible()
    assert menu.get_by_role("button", name="Sign out").is_visible()
    assert "Administrator" in menu.inner_text()
    box = menu.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1366
