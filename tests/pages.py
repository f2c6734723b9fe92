"""What every browser test of a page shares: how long a page may take to show what it should.

The suite runs as two pytest processes on two cores, beside their nodes and Chromium; a page that waits for a key
derivation (PBKDF2, 600,000 rounds), a camera's first frame or the API has been measured at over 15 s there on a
slow day. A generous wait costs nothing when the page is right, and a page that never shows it still fails."""
TIMEOUT_MS = 30_000
