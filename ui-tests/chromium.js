/**
 * How every browser of the UI tests is launched: Debian's Chromium (Playwright cannot
 * download its own here), without the background connections this closed network refuses.
 */
module.exports = {
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync'
  ]
};
