"""The pages in two real browsers: a streamer and a viewer from sign-up to the end banner.

Everything goes through the page as a person would use it (forms, buttons, the
keyboard), against a real daphne server; the test reads only what the page shows.
"""

from __future__ import annotations

import asyncio
import json
import threading
from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import RefreshToken
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from notifications.services import notify
from streams.models import Stream
from tests.servers import CuttableRelay, DaphneServer
from tests.web.conftest import WAIT

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "s3cret-Passw0rd!"
RTMP_URL = "rtmp://ingest.example.test/live"


def wait(driver, condition, timeout: float = WAIT, message: str = ""):
    return WebDriverWait(driver, timeout).until(condition, message)


def text_of(driver, css: str, text: str, timeout: float = WAIT) -> None:
    """Wait until the element at ``css`` shows ``text``."""
    condition = ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
    try:
        wait(driver, condition, timeout)
    except TimeoutException:
        shown = [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]
        raise AssertionError(f"{css} never showed {text!r}; it shows {shown!r}") from None


def connection_is(driver, state: str, css: str = "#connection", timeout: float = WAIT) -> None:
    """Wait until the page's connection state reads exactly ``state``."""

    def shown(driver) -> bool:
        return driver.find_element(By.CSS_SELECTOR, css).text == state

    try:
        wait(driver, shown, timeout)
    except TimeoutException:
        now = driver.find_element(By.CSS_SELECTOR, css).text
        raise AssertionError(
            f"the connection state never read {state!r}; it reads {now!r}"
        ) from None


def fill(driver, css: str, value: str) -> None:
    field = wait(driver, ec.element_to_be_clickable((By.CSS_SELECTOR, css)))
    field.clear()
    field.send_keys(value)


def click(driver, css: str) -> None:
    wait(driver, ec.element_to_be_clickable((By.CSS_SELECTOR, css))).click()


def register(driver, base: str, username: str) -> None:
    driver.get(f"{base}/login/")
    fill(driver, "#register-username", username)
    fill(driver, "#register-password", PASSWORD)
    click(driver, "#register-form button")
    wait(driver, ec.url_to_be(f"{base}/"))
    text_of(driver, "#account", f"Signed in as {username}")


def access_token(driver) -> str:
    return driver.execute_script(
        "return JSON.parse(sessionStorage.getItem('livestream.auth')).access"
    )


def test_streamer_and_viewer_from_log_in_to_the_end_banner(browser, screenshot, start_server):
    server = start_server(
        PLAYBACK_URL_TEMPLATE="",
        RTMP_INGEST_URL=RTMP_URL,
        # Short tokens: the page must refresh them while the test runs.
        JWT_ACCESS_MINUTES="1",
        AUTH_THROTTLE_RATE="1000/min",
        # A repeated message is refused for the whole test, whatever its pace.
        SOCKETIO_CHAT_DUPLICATE_WINDOW_MS="600000",
    )
    base = server.url
    streamer, viewer = browser("streamer"), browser("viewer")

    # Sign-up, with an error worded by the server on the way.
    register(streamer, base, "streamer")
    viewer.get(f"{base}/login/")
    screenshot(viewer, "login")
    fill(viewer, "#register-username", "streamer")
    fill(viewer, "#register-password", PASSWORD)
    click(viewer, "#register-form button")
    text_of(viewer, "#errors", "A user with that username already exists.")
    register(viewer, base, "viewer")
    first_token = access_token(viewer)

    # The streamer creates a stream, sees its RTMP URL and key, starts it.
    streamer.get(f"{base}/studio/")
    fill(streamer, "#create-title", "Browser test stream")
    click(streamer, "#create-form button")
    text_of(streamer, "#panel-status", "idle")
    stream = Stream.objects.get(title="Browser test stream")
    text_of(streamer, "#rtmp-url", RTMP_URL)
    assert stream.stream_key not in streamer.find_element(By.ID, "panel").text
    click(streamer, "#show-key")
    text_of(streamer, "#stream-key", stream.stream_key)
    click(streamer, "#start")
    text_of(streamer, "#panel-status", "live")
    connection_is(streamer, "connected", "#panel #connection")
    text_of(streamer, "#panel #count", "1")
    fill(streamer, "#panel #chat-input", "welcome, everyone")
    streamer.find_element(By.CSS_SELECTOR, "#panel #chat-input").send_keys(Keys.ENTER)
    text_of(streamer, "#panel #chat", "streamer welcome, everyone")

    # The viewer finds it in the list, with its viewer count, and joins.
    viewer.get(f"{base}/")
    text_of(viewer, f'[data-stream="{stream.pk}"] .count', "1 watching")
    screenshot(viewer, "streams")
    click(viewer, f'[data-stream="{stream.pk}"] a')
    wait(viewer, ec.url_to_be(f"{base}/watch/{stream.pk}/"))
    connection_is(viewer, "connected")
    text_of(viewer, "#count", "2")
    text_of(streamer, "#panel #count", "2")
    text_of(viewer, "#player", "No video for this stream")
    text_of(viewer, "#chat", "streamer welcome, everyone")  # the history

    # Chat both ways, sent with the keyboard.
    fill(viewer, "#chat-input", "hello from the viewer")
    viewer.find_element(By.ID, "chat-input").send_keys(Keys.ENTER)
    text_of(streamer, "#panel #chat", "viewer hello from the viewer")
    fill(streamer, "#panel #chat-input", "hello from the streamer")
    streamer.find_element(By.CSS_SELECTOR, "#panel #chat-input").send_keys(Keys.ENTER)
    text_of(viewer, "#chat", "streamer hello from the streamer")

    # The server's refusal, in its words.
    fill(viewer, "#chat-input", "hello from the viewer")
    viewer.find_element(By.ID, "chat-input").send_keys(Keys.ENTER)
    text_of(viewer, "#errors", "You already sent this message")

    # A personal notification.
    follower = get_user_model().objects.get(username="viewer")
    notify(follower, "follow", {"message": "streamer followed you"})
    text_of(viewer, "#notifications", "streamer followed you")

    # The list shows the live count (another tab of the streamer's browser).
    studio_tab = streamer.current_window_handle
    streamer.switch_to.new_window("tab")
    streamer.get(f"{base}/")
    text_of(streamer, f'[data-stream="{stream.pk}"] .count', "2 watching")
    streamer.close()
    streamer.switch_to.window(studio_tab)
    screenshot(viewer, "watch")
    screenshot(streamer, "studio")

    # The streamer ends it; the viewer gets the banner and the chat closes.
    fill(streamer, "#end-reason", "Thanks for watching")
    click(streamer, "#end")
    text_of(streamer, "#panel-status", "ended")
    text_of(viewer, "#banner", "This stream has ended: Thanks for watching")
    assert viewer.find_element(By.ID, "banner").is_displayed()
    assert not viewer.find_element(By.ID, "chat-input").is_enabled()
    connection_is(viewer, "stream ended")
    screenshot(viewer, "ended")

    # The one-minute access token was refreshed before it expired.
    refreshed = lambda driver: access_token(driver) != first_token  # noqa: E731
    wait(viewer, refreshed, timeout=75, message="the access token was not refreshed")


def test_the_watch_page_asks_a_visitor_to_log_in(browser, server, make_stream):
    stream = make_stream(title="Public stream")
    visitor = browser("visitor")
    visitor.get(f"{server.url}/watch/{stream.pk}/")
    text_of(visitor, "#title", "Public stream")
    text_of(visitor, "#login-needed", "Log in to watch and chat.")
    link = visitor.find_element(By.ID, "login-link").get_attribute("href")
    assert link == f"{server.url}/login/?next=%2Fwatch%2F{stream.pk}%2F"


def sign_in(driver, base: str, user) -> None:
    """Tokens in the tab's sessionStorage, as the login page leaves them."""
    refresh = RefreshToken.for_user(user)
    tokens = {
        "access": str(refresh.access_token),
        "refresh": str(refresh),
        "username": user.username,
    }
    driver.get(f"{base}/login/")
    driver.execute_script(
        "sessionStorage.setItem('livestream.auth', arguments[0])", json.dumps(tokens)
    )


def test_the_watch_page_shows_the_connection_dropping_and_coming_back(
    browser, start_server, server_logs, make_user, make_stream
):
    server = start_server(PLAYBACK_URL_TEMPLATE="")
    stream = make_stream(title="Through a restart")
    page = browser("viewer")
    sign_in(page, server.url, make_user("watcher"))
    page.get(f"{server.url}/watch/{stream.pk}/")
    connection_is(page, "connected")
    text_of(page, "#count", "1")

    server.stop()  # SIGTERM: the worker closes its sockets, clients reconnect
    text_of(page, "#connection", "reconnecting")
    again = DaphneServer(server_logs, PLAYBACK_URL_TEMPLATE="")
    again.port = server.port
    try:
        again.start()
        connection_is(page, "connected", timeout=30)
        text_of(page, "#count", "1")
        assert not page.find_element(By.ID, "chat-input").get_attribute("disabled")
    finally:
        again.stop()


@contextmanager
def relay_to(port: int):
    """A :class:`CuttableRelay` on its own event loop thread: (its URL, cut, restore)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    relay = asyncio.run_coroutine_threadsafe(CuttableRelay(port).start(), loop).result(WAIT)
    try:
        yield (
            relay.url,
            (lambda: loop.call_soon_threadsafe(relay.cut)),
            (lambda: loop.call_soon_threadsafe(relay.restore)),
        )
    finally:
        asyncio.run_coroutine_threadsafe(relay.stop(), loop).result(WAIT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(WAIT)
        loop.close()


def say(driver, text: str) -> None:
    fill(driver, "#chat-input", text)
    driver.find_element(By.ID, "chat-input").send_keys(Keys.ENTER)
    text_of(driver, "#chat", text)


def test_a_viewer_whose_network_drops_sees_what_was_said_meanwhile_once(
    browser, start_server, make_user, make_stream
):
    server = start_server(PLAYBACK_URL_TEMPLATE="")
    stream = make_stream(title="Through a tunnel")
    talker = browser("talker")
    sign_in(talker, server.url, make_user("talker"))
    talker.get(f"{server.url}/watch/{stream.pk}/")
    connection_is(talker, "connected")
    phone = make_user("phone")
    with relay_to(server.port) as (url, cut, restore):
        viewer = browser("viewer")
        sign_in(viewer, url, phone)
        viewer.get(f"{url}/watch/{stream.pk}/")
        connection_is(viewer, "connected")
        say(talker, "before the tunnel")
        text_of(viewer, "#chat", "before the tunnel")
        text_of(talker, "#count", "2")

        cut()
        text_of(viewer, "#connection", "reconnecting")
        say(talker, "said in the tunnel")
        notify(phone, "gift", {"message": "a gift while you were away"})
        restore()
        connection_is(viewer, "connected", timeout=30)
        text_of(viewer, "#chat", "said in the tunnel")
        # Only a recovered session gets this: a new one would find it in the REST list only.
        text_of(viewer, "#notifications", "a gift while you were away")
        chat = viewer.find_element(By.ID, "chat").text
        # Recovered: the missed line once, and no history reloaded on top of the old one.
        assert chat.count("said in the tunnel") == 1, chat
        assert chat.count("before the tunnel") == 1, chat
        assert talker.find_element(By.ID, "count").text == "2"
        assert not viewer.find_element(By.ID, "chat-input").get_attribute("disabled")
