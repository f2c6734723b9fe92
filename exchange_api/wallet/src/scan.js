// Scanning a merchant's QR code with the camera: getUserMedia, then the browser's BarcodeDetector where it has one
// for QR codes, else jsQR (npm jsqr, Apache-2.0) on frames drawn to a canvas. jsQR is about 130 KiB, so the build
// makes it a file of its own that the page fetches from its origin only when such a camera scans. Only what this
// service's own tills show is opened: a bare request code, or a link to this wallet's own page naming a request
// (`requestFromScan`).

const FRAME_MS = 150;        // a frame looked at every so often: enough for a hand-held phone, light on its battery
const MAX_SIDE = 720;        // frames are scaled down to this before jsQR reads them

/** The request id a scanned text names, or null when it is anything but this wallet's own link or a bare id. */
export function requestFromScan(text, origin = location.origin) {
  const s = String(text || "").trim();
  const bare = /^rrq_[A-Za-z0-9_-]{4,80}$/;
  if (bare.test(s)) return s;
  let url;
  try {
    url = new URL(s);
  } catch {
    return null;
  }
  if (url.origin !== origin || !["/wallet", "/wallet/"].includes(url.pathname)) return null;
  const id = url.searchParams.get("request");
  return id && bare.test(id) ? id : null;
}

/** Why the camera cannot start ("noCamera" | "denied"), as an Error's `reason`. */
export class CameraProblem extends Error {
  constructor(reason, cause) {
    super(reason);
    this.reason = reason;
    this.cause = cause;
  }
}

/** Starts the camera into `video` and calls `found(text)` once with the first QR code read; returns stop(). */
export async function startScanning(video, found) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new CameraProblem("noCamera");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch (exc) {
    const denied = exc && (exc.name === "NotAllowedError" || exc.name === "SecurityError");
    throw new CameraProblem(denied ? "denied" : "noCamera", exc);
  }
  let running = true;
  const stop = () => {
    running = false;
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
  video.srcObject = stream;
  video.setAttribute("playsinline", "");
  video.muted = true;
  await video.play().catch(() => {});
  const read = await reader();
  const tick = async () => {
    if (!running) return;
    if (!video.isConnected) {
      stop();
      return;
    }
    let text = null;
    try {
      if (video.readyState >= 2 && video.videoWidth > 0) text = await read(video);
    } catch {
      text = null;
    }
    if (!running) return;
    if (text) {
      stop();
      found(text);
      return;
    }
    setTimeout(tick, FRAME_MS);
  };
  setTimeout(tick, 0);
  return stop;
}

/** The decoder: BarcodeDetector when it reads QR codes here, else jsQR over a canvas. */
async function reader() {
  if ("BarcodeDetector" in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) {
        const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        return async (video) => {
          const codes = await detector.detect(video);
          return codes.length ? codes[0].rawValue : null;
        };
      }
    } catch {
      // fall through to jsQR
    }
  }
  const { default: jsQR } = await import("jsqr");
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    const scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const code = jsQR(img.data, img.width, img.height, { inversionAttempts: "attemptBoth" });
    return code ? code.data : null;
  };
}
