// The demo softphone in headless Debian Chromium against a running gateway in lab mode
// (issue 9): the page calls the echo number; two pages call each other; the WebSocket
// drops mid-call and the page resumes. Chromium gets fake audio devices, so getUserMedia
// yields a tone and the echo brings it back.
//
// Run by tests/browser_e2e.rs, which starts the gateway and passes RTCGATE_URL (the API
// base) and RTCGATE_ARTIFACTS (where screenshots go, under target/).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { chromium } from "playwright-core";

const BASE = process.env.RTCGATE_URL;
const ARTIFACTS = process.env.RTCGATE_ARTIFACTS ?? "target/browser-artifacts";
const ECHO = process.env.RTCGATE_ECHO ?? "+15550100";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

let browser;

before(async () => {
  assert.ok(BASE, "RTCGATE_URL names the gateway's API (tests/browser_e2e.rs sets it)");
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
    ],
  });
});

after(async () => {
  await browser?.close();
});

/** A softphone page signed in and registered as `number`, its channel open. */
async function phone(number, viewport = { width: 420, height: 860 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.log(`[${number}] page error: ${e.message}`));
  await page.goto(`${BASE}/`);
  await page.fill("#number", number);
  await page.click("#register");
  await page.waitForFunction(() => document.getElementById("channel").textContent === "open", null, {
    timeout: 10_000,
  });
  return page;
}

const status = (page) => page.evaluate(() => window.softphone.status);
const received = (page) => page.evaluate(() => window.softphone.stats?.packetsReceived ?? 0);

async function waitStatus(page, want, timeout = 15_000) {
  try {
    await page.waitForFunction((w) => window.softphone.status === w, want, { timeout });
  } catch {
    const [now, reason] = await page.evaluate(() => [
      window.softphone.status,
      document.getElementById("reason").textContent,
    ]);
    assert.fail(`status ${now} (${reason}), wanted ${want}`);
  }
}

/** Waits until the page has received more than `n` audio packets. */
async function receivedMoreThan(page, n, timeout = 10_000) {
  await page.waitForFunction((k) => (window.softphone.stats?.packetsReceived ?? 0) > k, n, { timeout });
  return received(page);
}

test("(a) a page calls the echo number, hears itself back, and hangs up", async () => {
  const page = await phone("+15550021");
  await page.fill("#dial", ECHO);
  await page.click("#call");
  await waitStatus(page, "Connected");
  const first = await receivedMoreThan(page, 0);
  const later = await receivedMoreThan(page, first + 25);
  assert.ok(later > first, `inbound audio packets grow (${first} → ${later})`);
  await page.waitForFunction(() => (window.softphone.stats?.audioLevel ?? 0) > 0, null, { timeout: 5_000 });
  await page.screenshot({ path: join(ARTIFACTS, "softphone-echo-call.png") });
  await page.click("#hangup");
  await waitStatus(page, "Terminated");
  await page.context().close();
});

test("(b) two registered pages call each other through the gateway", async () => {
  const alice = await phone("+15550031");
  const bob = await phone("+15550032", { width: 1280, height: 800 });
  await alice.fill("#dial", "+15550032");
  await alice.click("#call");
  await bob.waitForFunction(() => window.softphone.incoming === true, null, { timeout: 15_000 });
  assert.equal(await bob.textContent("#caller"), "tel:+15550031");
  await bob.click("#answer");
  await waitStatus(bob, "Connected");
  await waitStatus(alice, "Connected");
  // Media both ways: each side's inbound packets keep growing.
  const [a0, b0] = [await receivedMoreThan(alice, 0), await receivedMoreThan(bob, 0)];
  assert.ok((await receivedMoreThan(alice, a0 + 25)) > a0, "alice hears bob");
  assert.ok((await receivedMoreThan(bob, b0 + 25)) > b0, "bob hears alice");
  await bob.screenshot({ path: join(ARTIFACTS, "softphone-two-pages-callee.png") });
  await bob.click("#hangup");
  await waitStatus(bob, "Terminated");
  await waitStatus(alice, "Terminated");
  await alice.context().close();
  await bob.context().close();
});

test("(c) the WebSocket drops during a call and the page resumes without losing it", async () => {
  const page = await phone("+15550041");
  await page.fill("#dial", ECHO);
  await page.click("#call");
  await waitStatus(page, "Connected");
  const before = await receivedMoreThan(page, 0);
  // Cut the socket under the SDK, as a network blip would (no closeChannel).
  const opens = await page.evaluate(() => window.softphone.channelOpens);
  await page.evaluate(() => window.softphone.gate._channel.close());
  await page.waitForFunction((n) => window.softphone.channelOpens > n, opens, { timeout: 10_000 });
  assert.equal(await status(page), "Connected", "the call survived the reconnect");
  assert.ok((await receivedMoreThan(page, before + 25)) > before, "media kept flowing");
  // Events after the reconnect still arrive: hang up and see the gateway's Terminated.
  await page.click("#hangup");
  await waitStatus(page, "Terminated");
  await page.context().close();
});
