// Unit tests of rtcgate.js under node's test runner (`node --test`): error mapping,
// channel events, resumption, outgoing and incoming calls. The browser globals are
// replaced by small fakes that record what the SDK asks of them.

import { test } from "node:test";
import assert from "node:assert/strict";

// Node before 19 has no global CustomEvent (browsers and node 20 do).
globalThis.CustomEvent ??= class CustomEvent extends Event {
  constructor(type, init) {
    super(type);
    this.detail = init?.detail ?? null;
  }
};

const { RtcGate, RtcGateError, errorFrom, eventKind } = await import("../rtcgate.js");

const BASE = "http://127.0.0.1:8080";
const EV = "org.camaraproject.webrtc-events.v0";

/** A fetch that answers from `routes` ("METHOD /path" → [status, body, headers]). */
function fakeFetch(routes) {
  const calls = [];
  const fetch = async (url, init) => {
    const path = url.slice(BASE.length).split("?")[0];
    const key = `${init.method} ${path}`;
    calls.push({ key, headers: init.headers, body: init.body ? JSON.parse(init.body) : undefined });
    const route = routes[key];
    if (!route) return new Response(JSON.stringify({ status: 404, code: "NOT_FOUND", message: key }), { status: 404 });
    const [status, body, headers] = typeof route === "function" ? route(calls.at(-1)) : route;
    return new Response(body === null ? null : JSON.stringify(body), { status, headers });
  };
  return { fetch, calls };
}

/** A WebSocket whose tests open, feed and drop it by hand. */
class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = new URL(url);
    FakeSocket.all.push(this);
  }
  open() {
    this.onopen?.();
  }
  send() {}
  deliver(ev) {
    this.onmessage?.({ data: JSON.stringify(ev) });
  }
  close(code = 1006) {
    this.onclose?.({ code });
  }
}

/** An RTCPeerConnection that records the descriptions it is given. */
class FakePeer {
  static all = [];
  constructor() {
    this.remote = [];
    this.closed = false;
    this.iceGatheringState = "complete";
    this.localDescription = null;
    this.transceivers = [];
    FakePeer.all.push(this);
  }
  addTrack() {}
  addTransceiver(kind) {
    this.transceivers.push(kind);
  }
  async createOffer() {
    return { type: "offer", sdp: "v=0 browser-offer" };
  }
  async createAnswer() {
    return { type: "answer", sdp: "v=0 browser-answer" };
  }
  async setLocalDescription(d) {
    this.localDescription = d;
  }
  async setRemoteDescription(d) {
    this.remote.push(d);
  }
  getSenders() {
    return [];
  }
  close() {
    this.closed = true;
  }
}

const REG = {
  registrationId: "reg-1",
  deviceId: "dev-1",
  regInfo: { phoneNumber: "+15550001", regStatus: "Registered" },
  expiresAt: "2026-12-03T14:00:00Z",
};

const BASIC_ROUTES = {
  "POST /dev/token": [200, { access_token: "tok", token_type: "Bearer", expires_in: 3600 }],
  "POST /webrtc-registration/v0.3/sessions": [200, REG],
  "DELETE /webrtc-registration/v0.3/sessions/reg-1": [204, null],
  "POST /notificationchannel/v0.1/dev-1/channels": [
    201,
    { channelId: "ch-1", channelType: "WebSockets", channelData: { channelURL: "ws://127.0.0.1:8080/ch/abc" } },
  ],
};

/** A registered client with its channel open. */
async function connected(extraRoutes = {}) {
  FakeSocket.all = [];
  FakePeer.all = [];
  const { fetch, calls } = fakeFetch({ ...BASIC_ROUTES, ...extraRoutes });
  const gate = await RtcGate.withDevToken(BASE, "+15550001", {
    fetch,
    WebSocket: FakeSocket,
    RTCPeerConnection: FakePeer,
    backoff: () => 0,
  });
  await gate.register("dev-1");
  const opening = gate.openChannel();
  await new Promise((r) => setImmediate(r));
  FakeSocket.all[0].open();
  await opening;
  return { gate, calls, socket: FakeSocket.all[0] };
}

function statusEvent(channelseq, id, sequenceNumber, status, extra = {}) {
  return {
    specversion: "1.0",
    type: `${EV}.session-status`,
    id: `e${channelseq}`,
    source: "rtcgate",
    channelseq,
    data: { mediaSessionId: id, sequenceNumber, status, ...extra },
  };
}

const flush = () => new Promise((r) => setImmediate(r));

test("an ErrorInfo answer becomes a typed error with status, code and Retry-After", async () => {
  const resp = new Response(JSON.stringify({ status: 503, code: "UNAVAILABLE", message: "draining" }), {
    status: 503,
    headers: { "retry-after": "30" },
  });
  const e = await errorFrom(resp);
  assert.ok(e instanceof RtcGateError);
  assert.equal(e.status, 503);
  assert.equal(e.code, "UNAVAILABLE");
  assert.equal(e.detail, "draining");
  assert.equal(e.retryAfter, 30);
  assert.equal(e.retryable, true);
});

test("a non-ErrorInfo body still gives a code derived from the status", async () => {
  const e = await errorFrom(new Response("<html>oops</html>", { status: 403 }));
  assert.equal(e.code, "PERMISSION_DENIED");
  assert.equal(e.retryable, false);
});

test("a request the gateway refuses rejects with the gateway's code", async () => {
  const { fetch } = fakeFetch({
    "POST /dev/token": [400, { status: 400, code: "INVALID_ARGUMENT", message: "phoneNumber must be E.164" }],
  });
  await assert.rejects(RtcGate.withDevToken(BASE, "555", { fetch }), (e) => {
    assert.equal(e.code, "INVALID_ARGUMENT");
    assert.match(e.message, /E\.164/);
    return true;
  });
});

test("a network failure is a retryable NETWORK error", async () => {
  const fetch = async () => {
    throw new TypeError("connection refused");
  };
  await assert.rejects(RtcGate.withDevToken(BASE, "+15550001", { fetch }), (e) => {
    assert.equal(e.status, 0);
    assert.equal(e.code, "NETWORK");
    assert.equal(e.retryable, true);
    return true;
  });
});

test("event types are recognised by their CAMARA suffix", () => {
  assert.equal(eventKind(`${EV}.session-invitation`), "session-invitation");
  assert.equal(eventKind(`${EV}.session-status`), "session-status");
  assert.equal(eventKind(`${EV}.registration-ends`), "registration-ends");
  assert.equal(eventKind("com.example.other"), "unknown");
});

test("an outgoing call applies the first answer once and reports statuses in order", async () => {
  const { gate, calls, socket } = await connected({
    "POST /webrtc-call-handling/v0.3/sessions": [201, { mediaSessionId: "ms-1", status: "Initial" }],
  });
  const call = await gate.call("+15550100");
  const post = calls.find((c) => c.key === "POST /webrtc-call-handling/v0.3/sessions");
  assert.equal(post.headers.registrationId, "reg-1");
  assert.equal(post.headers.authorization, "Bearer tok");
  assert.deepEqual(post.body, {
    originatorAddress: "tel:+15550001",
    receiverAddress: "tel:+15550100",
    offer: { sdp: "v=0 browser-offer" },
  });
  assert.deepEqual(FakePeer.all[0].transceivers, ["audio"], "no stream: a sendrecv audio transceiver");

  const seen = [];
  call.addEventListener("status", (e) => seen.push(e.detail.status));
  let ended = null;
  call.addEventListener("ended", (e) => (ended = e.detail));
  socket.deliver(statusEvent(1, "ms-1", 1, "InProgress", { answer: { sdp: "v=0 gw-answer" } }));
  socket.deliver(statusEvent(2, "ms-1", 2, "Ringing"));
  socket.deliver(statusEvent(3, "ms-1", 3, "Connected", { answer: { sdp: "v=0 gw-answer" } }));
  await flush();
  assert.deepEqual(seen, ["InProgress", "Ringing", "Connected"]);
  assert.deepEqual(FakePeer.all[0].remote, [{ type: "answer", sdp: "v=0 gw-answer" }], "answer applied once");

  socket.deliver(statusEvent(4, "ms-1", 4, "Terminated", { reason: "remote hangup" }));
  await flush();
  assert.deepEqual(ended, { status: "Terminated", reason: "remote hangup" });
  assert.equal(FakePeer.all[0].closed, true);
  assert.equal(gate.calls.size, 0);
});

test("replayed frames and stale session events are ignored", async () => {
  const { gate, socket } = await connected({
    "POST /webrtc-call-handling/v0.3/sessions": [201, { mediaSessionId: "ms-2", status: "Initial" }],
  });
  const call = await gate.call("tel:+15550100");
  const seen = [];
  call.addEventListener("status", (e) => seen.push(e.detail.status));
  socket.deliver(statusEvent(1, "ms-2", 1, "Ringing"));
  socket.deliver(statusEvent(1, "ms-2", 1, "Ringing")); // same channelseq again
  socket.deliver(statusEvent(2, "ms-2", 3, "Connected", { answer: { sdp: "a" } }));
  socket.deliver(statusEvent(3, "ms-2", 2, "Ringing")); // older sequenceNumber
  await flush();
  assert.deepEqual(seen, ["Ringing", "Connected"]);
  assert.equal(call.status, "Connected");
});

test("a dropped channel reconnects with last_seq and the token, and the call goes on", async () => {
  const { gate, socket } = await connected({
    "POST /webrtc-call-handling/v0.3/sessions": [201, { mediaSessionId: "ms-3", status: "Initial" }],
  });
  const states = [];
  gate.addEventListener("channel", (e) => states.push(e.detail.state));
  const call = await gate.call("+15550100");
  socket.deliver(statusEvent(1, "ms-3", 1, "Connected", { answer: { sdp: "a" } }));
  socket.deliver(statusEvent(2, "ms-3", 2, "Hold"));
  await flush();
  socket.close();
  await new Promise((r) => setTimeout(r, 5)); // backoff is 0 ms in this test
  assert.equal(FakeSocket.all.length, 2, "a second socket was opened");
  const again = FakeSocket.all[1];
  assert.equal(again.url.searchParams.get("last_seq"), "2");
  assert.equal(again.url.searchParams.get("access_token"), "tok");
  assert.equal(again.url.pathname, "/ch/abc", "the same channel URL");
  again.open();
  again.deliver(statusEvent(2, "ms-3", 2, "Hold")); // replay of what was seen
  again.deliver(statusEvent(3, "ms-3", 3, "Resume")); // missed while away
  await flush();
  assert.equal(call.status, "Resume");
  assert.deepEqual(states, ["reconnecting", "open"]);
  gate.closeChannel();
  assert.equal(FakeSocket.all.length, 2, "closeChannel does not reconnect");
});

test("a socket closed for an expired token says so, and the reconnect uses the new token", async () => {
  const { gate, socket } = await connected({});
  const details = [];
  gate.addEventListener("channel", (e) => {
    details.push(e.detail);
    if (e.detail.tokenExpired) gate.token = "tok-2";
  });
  socket.close(1008);
  await new Promise((r) => setTimeout(r, 5)); // backoff is 0 ms in this test
  assert.deepEqual(details, [{ state: "reconnecting", tokenExpired: true }]);
  const again = FakeSocket.all.at(-1);
  assert.notEqual(again, socket);
  assert.equal(again.url.searchParams.get("access_token"), "tok-2");
  again.open();
  again.close(); // an ordinary drop
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(details.slice(1), [
    { state: "open" },
    { state: "reconnecting", tokenExpired: false },
  ]);
  gate.closeChannel();
});

test("an invitation becomes an incoming call, answered with PUT status Connected", async () => {
  const { gate, calls, socket } = await connected({
    "PUT /webrtc-call-handling/v0.3/sessions/ms-9/status": [
      200,
      { mediaSessionId: "ms-9", status: "Connected" },
    ],
  });
  let incoming = null;
  gate.addEventListener("incoming", (e) => (incoming = e.detail.call));
  socket.deliver({
    specversion: "1.0",
    type: `${EV}.session-invitation`,
    id: "e1",
    source: "rtcgate",
    channelseq: 1,
    data: {
      mediaSessionId: "ms-9",
      sequenceNumber: 1,
      originatorAddress: "tel:+15550777",
      receiverAddress: "tel:+15550001",
      status: "Initial",
      offer: { sdp: "v=0 gw-offer" },
    },
  });
  await flush();
  assert.ok(incoming, "incoming event");
  assert.equal(incoming.remote, "tel:+15550777");
  await incoming.answer();
  assert.deepEqual(FakePeer.all[0].remote, [{ type: "offer", sdp: "v=0 gw-offer" }]);
  const put = calls.find((c) => c.key === "PUT /webrtc-call-handling/v0.3/sessions/ms-9/status");
  assert.deepEqual(put.body, { status: "Connected", answer: { sdp: "v=0 browser-answer" } });
  assert.equal(incoming.status, "Connected");
});

test("hanging up before an answer cancels; declining an invitation declines", async () => {
  const { gate, calls, socket } = await connected({
    "POST /webrtc-call-handling/v0.3/sessions": [201, { mediaSessionId: "ms-4", status: "Initial" }],
    "DELETE /webrtc-call-handling/v0.3/sessions/ms-4": [204, null],
    "DELETE /webrtc-call-handling/v0.3/sessions/ms-5": [204, null],
  });
  const out = await gate.call("+15550100");
  await out.hangup();
  assert.equal(out.status, "SessionCancelled");
  assert.ok(calls.some((c) => c.key === "DELETE /webrtc-call-handling/v0.3/sessions/ms-4"));

  let incoming = null;
  gate.addEventListener("incoming", (e) => (incoming = e.detail.call));
  socket.deliver({
    type: `${EV}.session-invitation`,
    channelseq: 1,
    data: { mediaSessionId: "ms-5", sequenceNumber: 1, offer: { sdp: "o" } },
  });
  await flush();
  await incoming.hangup();
  assert.equal(incoming.status, "Declined");
});

test("registration-ends is surfaced and clears the registration", async () => {
  const { gate, socket } = await connected();
  let reason;
  gate.addEventListener("registration-ends", (e) => (reason = e.detail.reason));
  socket.deliver({ type: `${EV}.registration-ends`, channelseq: 1, data: { reason: "network" } });
  await flush();
  assert.equal(reason, "network");
  assert.equal(gate.registration, null);
});

test("calling before registering is refused without a request", async () => {
  const { fetch, calls } = fakeFetch(BASIC_ROUTES);
  const gate = await RtcGate.withDevToken(BASE, "+15550001", { fetch, RTCPeerConnection: FakePeer });
  await assert.rejects(gate.call("+15550100"), /not registered/);
  assert.equal(calls.length, 1, "only the token request");
});

test("the gateway's Terminated arriving before the DELETE answer is the call's last status", async () => {
  let socket;
  const { gate, socket: s0 } = await connected({
    "POST /webrtc-call-handling/v0.3/sessions": [201, { mediaSessionId: "ms-6", status: "Initial" }],
    "DELETE /webrtc-call-handling/v0.3/sessions/ms-6": () => {
      // The gateway hangs up and announces it on the channel while DELETE is answered.
      socket.deliver(statusEvent(3, "ms-6", 3, "Terminated"));
      return [204, null];
    },
  });
  socket = s0;
  const call = await gate.call("+15550100");
  const seen = [];
  call.addEventListener("status", (e) => seen.push(e.detail.status));
  socket.deliver(statusEvent(1, "ms-6", 1, "Connected", { answer: { sdp: "a" } }));
  await flush();
  await call.hangup();
  await flush();
  assert.deepEqual(seen, ["Connected", "Terminated"]);
  assert.equal(call.status, "Terminated");
});
