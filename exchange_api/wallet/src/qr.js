// A QR code as an SVG element, drawn here from the text (an address, a payment link of this service): the SVG is
// parsed as SVG, never as HTML, and hidden from screen readers (the text beside it says what it holds). The wallet's
// "My code" and the till's payment screen both draw with it.
import QRCode from "qrcode";

export async function qrElement(text) {
  const svg = await QRCode.toString(text, { type: "svg", errorCorrectionLevel: "M", margin: 2,
    color: { dark: "#10231fff", light: "#ffffffff" } });
  const doc = new DOMParser().parseFromString(svg, "image/svg+xml").documentElement;
  doc.setAttribute("aria-hidden", "true");
  doc.setAttribute("focusable", "false");
  return document.importNode(doc, true);
}
