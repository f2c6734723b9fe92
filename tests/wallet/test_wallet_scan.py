"""Scanning the merchant's QR code with the wallet's camera (issue 23), in Chromium at phone size, English and 中文.

Chromium's fake camera plays a Y4M video made here of a QR code (the QR drawn by the npm `qrcode` package the pages
use, the frames written in Python): the QR of a till's payment request opens that request, and the resident pays
it; a QR naming anything but this wallet's own request link opens nothing and says so; without the camera
permission the page says how to allow it. Chromium on Linux has no BarcodeDetector, so these runs read the frames
with the bundled decoder (jsQR). Screenshots go to build/screenshots/wallet/.
"""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from .conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, Page
from .test_wallet import TIMEOUT_MS, create_request, expect_text

# Chromium's fake camera starts and jsQR reads its frames on the CPU: under CI's load (both cores busy) the first
# frames came after 15 s (the [zh] runs, second in line, failed there while the same runs passed alone in 6 s)
CAMERA_TIMEOUT_MS = 3 * TIMEOUT_MS
PLAYING = ("() => { const v = document.querySelector('[data-testid=scan-video]');"
           " return v && v.videoWidth > 0 && !v.paused; }")
from .test_wallet_tells_everything import WORDS as ACCOUNT_WORDS

WORDS = {"en": {"scan": "Scan", "title": "Scan the merchant's code", "foreign": "This QR code is not a payment request of this service",
                "denied": "The camera was not allowed", "amount": "0.25 credits", "paid": "Paid 0.25 credits"},
         "zh": {"scan": "扫码", "title": "扫描商户付款码", "foreign": "此二维码不是本服务的付款请求", "denied": "未获得摄像头权限",
                "amount": "0.25 信用点", "paid": "0.25"}}


def qr_modules(text: str) -> list[list[bool]]:
    """The QR code's modules as the pages draw them (npm qrcode, error correction M)."""
    script = ("const q = require('qrcode').create(process.argv[1], {errorCorrectionLevel: 'M'});"
              "console.log(JSON.stringify({n: q.modules.size, d: Array.from(q.modules.data)}));")
    node = shutil.which("node")
    assert node, "node is needed to draw the QR code"
    out = json.loads(subprocess.run([node, "-e", script, text], cwd=ROOT, capture_output=True, text=True,
                                    check=True).stdout)
    n = out["n"]
    return [[bool(out["d"][r * n + c]) for c in range(n)] for r in range(n)]


def write_y4m(path, text: str | None, width: int = 640, height: int = 480, frames: int = 3) -> None:
    """A Y4M video (4:2:0, video-range luma) of the QR code of `text`, dark modules on white, centred (None: a
    white picture, no code in sight)."""
    modules = qr_modules(text) if text is not None else []
    n, quiet = len(modules), 4
    size = min(width, height) * 9 // 10 // (n + 2 * quiet)
    x0 = (width - size * (n + 2 * quiet)) // 2 + quiet * size
    y0 = (height - size * (n + 2 * quiet)) // 2 + quiet * size
    luma = bytearray([235]) * (width * height)
    for r, row in enumerate(modules):
        for c, dark in enumerate(row):
            if dark:
                for y in range(y0 + r * size, y0 + (r + 1) * size):
                    start = y * width + x0 + c * size
                    luma[start:start + size] = bytes([16]) * size
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + bytes(luma) + chroma + chroma)


@pytest.fixture(scope="module")
def playwright_driver():
    """Playwright for this module's browsers: each test starts Chromium with a fake camera of its own video."""
    if not CHROMIUM.exists():
        pytest.fail(f"chromium is not installed at {CHROMIUM}", pytrace=False)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        yield p


@pytest.fixture
def camera_wallet(playwright_driver, wallet_live, tmp_path):
    """Factory: a phone-size wallet tab whose camera shows the QR code of `text` (or no camera permission)."""
    wallet_live.app.state.auth_failures.clear()
    browsers, pages = [], []

    def make(text: str | None, lang: str, *, allow_camera: bool = True) -> Page:
        video = tmp_path / f"qr-{len(browsers)}.y4m"
        write_y4m(video, text)
        browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=[
            *CHROMIUM_ARGS, "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"])
        browsers.append(browser)
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN" if lang == "zh" else "en-GB",
                                  device_scale_factor=1, is_mobile=True, has_touch=True,
                                  permissions=["camera"] if allow_camera else [])
        page = Page(ctx, wallet_live.url)
        pages.append(page)
        page.goto(f"{wallet_live.url}/wallet/?lang={lang}")
        return page

    yield make
    try:
        for page in pages:
            assert not page.foreign_requests(), f"the wallet left its origin: {page.foreign_requests()}"
            assert not page.console_errors, f"errors in the page: {page.console_errors}"
    finally:
        for browser in browsers:
            browser.close()


def import_key(page, resident, lang: str) -> None:
    words = ACCOUNT_WORDS[lang]
    page.get_by_role("button", name=words["import"]).click()
    page.locator("#import-key").fill(resident.key.hex())
    page.locator("#new-password").fill("correct horse battery")
    page.locator("#new-password-2").fill("correct horse battery")
    page.get_by_role("button", name=words["save"], exact=True).click()
    page.locator("nav.tabs").wait_for(timeout=TIMEOUT_MS)
    page.locator("nav.tabs a[href='#/pay']").click()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_wallet_scan_opensTheTillsRequestFromTheCamera_andPaysIt(camera_wallet, wallet_api, wallet_city, lang):
    resident = wallet_city.residents[0]
    req = create_request(wallet_api, resident, 25, "scanned at the till")
    words = WORDS[lang]
    page = camera_wallet(req["qrPayload"], lang)
    import_key(page, resident, lang)
    page.get_by_role("button", name=words["scan"], exact=True).click()
    card = page.locator("[data-testid=request-card]")
    card.wait_for(timeout=CAMERA_TIMEOUT_MS)
    assert page.locator("[data-testid=request-amount]").inner_text() == words["amount"]
    assert page.locator("#request-code").input_value() == req["id"]
    assert page.locator("[data-testid=scanner]").count() == 0  # the camera is closed once a code is read
    assert page.evaluate("() => document.querySelectorAll('video').length") == 0
    page.shot(f"phone-scan-opened-{lang}")
    page.locator("#sign-password").fill("correct horse battery")
    page.locator("#sign-password").press("Enter")
    expect_text(page.locator("[data-testid=pay-result]"), words["paid"])
    assert wallet_api.get(f"/v1/redemption_requests/{req['id']}").json()["status"] == "approved"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_wallet_scan_aQrOfAnotherSiteOrNoCameraPermission_opensNothingAndSaysWhy(camera_wallet, wallet_api,
                                                                                  wallet_city, lang):
    resident = wallet_city.residents[1]
    req = create_request(wallet_api, resident, 25, "someone else's link")
    words = WORDS[lang]
    # the right request id, behind another site's address: not this wallet's link, so nothing is opened
    page = camera_wallet(f"https://pay.example.com/wallet/?request={req['id']}", lang)
    import_key(page, resident, lang)
    page.get_by_role("button", name=words["scan"], exact=True).click()
    # the camera starts and a frame is decoded first, as in the test that opens a request (CI under load: > 15 s)
    expect_text(page.locator("[data-testid=scan-error]"), words["foreign"], timeout_ms=CAMERA_TIMEOUT_MS)
    assert page.locator("[data-testid=request-card]").count() == 0
    assert not [u for _, u, _ in page.requests if "/v1/redemption_requests/" in u]
    page.shot(f"phone-scan-foreign-{lang}")

    refused = camera_wallet(req["qrPayload"], lang, allow_camera=False)
    import_key(refused, resident, lang)
    refused.get_by_role("button", name=words["scan"], exact=True).click()
    expect_text(refused.locator("[data-testid=scan-error]"), words["denied"])
    assert refused.locator("[data-testid=request-card]").count() == 0


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_wallet_scan_cameraView_staysOpenUntilStop_whenNoCodeIsInSight(camera_wallet, wallet_api, wallet_city, lang):
    page = camera_wallet(None, lang)
    import_key(page, wallet_city.residents[2], lang)
    reader = lambda: [u for _, u, _ in page.requests if "/wallet/jsQR-" in u]  # noqa: E731
    assert not reader()  # the QR reader's file is fetched only when a camera scans
    page.get_by_role("button", name=WORDS[lang]["scan"], exact=True).click()
    page.locator("[data-testid=scanner]").wait_for(timeout=CAMERA_TIMEOUT_MS)  # the camera starts first
    page.wait_for_function(PLAYING, timeout=CAMERA_TIMEOUT_MS)
    assert page.locator("[data-testid=scan]").is_disabled()
    assert len(reader()) == 1  # Chromium on Linux has no BarcodeDetector: jsQR reads the frames
    page.shot(f"phone-scan-camera-{lang}")
    # the whole page drawn anew while the camera is open (the language switched here; the answers a key's import
    # asks for, coming late, do the same): the camera stays open, its card now in the other language
    other = "en" if lang == "zh" else "zh"
    page.locator("button.lang").click()
    expect_text(page.locator("#scan-title"), WORDS[other]["title"])
    page.wait_for_function(PLAYING, timeout=CAMERA_TIMEOUT_MS)
    page.locator("[data-testid=scan-stop]").click()
    assert page.locator("[data-testid=scanner]").count() == 0
    assert page.locator("[data-testid=scan]").is_enabled()
    assert page.locator("[data-testid=request-card]").count() == 0
    # leaving the pay view closes the camera: back on it, nothing scans until asked again
    page.locator("[data-testid=scan]").click()
    page.wait_for_function(PLAYING, timeout=CAMERA_TIMEOUT_MS)
    page.locator("nav.tabs a[href='#/points']").click()
    page.locator("nav.tabs a[href='#/pay']").click()
    assert page.locator("[data-testid=scanner]").count() == 0
    assert page.locator("[data-testid=scan]").is_enabled()
