// rtcgate.js — a dependency-free browser SDK for the rtcgate JSON API.
//
//   import { RtcGate } from "/rtcgate.js";
//   const gate = await RtcGate.withDevToken(location.origin, "+15550001");
//   await gate.register("my-laptop");
//   await gate.openChannel();
//   const call = await gate.call("tel:+15550100", { stream });
//   call.addEventListener("status", (e) => console.log(e.detail.status));
//
// The SDK wraps the REST routes (docs/api.md), keeps the WebSocket notification channel
// open (reconnecting with `last_seq` so no event is lost), and drives one
// RTCPeerConnection per call. Browser globals (fetch, WebSocket, RTCPeerConnection) can be
// replaced through the constructor options, which is how its unit tests run under node.
//
// No build step: this file is what the gateway serves at /rtcgate.js.

const REGISTRATION = "/webrtc-registration/v0.3/sessions";
const CALLS = "/webrtc-call-handling/v0.3/sessions";
const CHANNELS = (deviceId) =>
  `/notificationchannel/v0.1/${encodeURIComponent(deviceId)}/channels`;

/** The CAMARA statuses after which a call is over. */
export const FINAL_STATUSES = Object.freeze([
  "Terminated",
  "SessionCancelled",
  "Declined",
  "Failed",
  "NoAnswer",
  "NotReachable",
  "Busy",
]);

/**
 * An error answered by the gateway (a CAMARA `ErrorInfo`), or a transport failure
 * (`status` 0, `code` "NETWORK").
 */
export class RtcGateError extends Error {
  /**
   * @param {number} status HTTP status (0 when no answer came)
   * @param {string} code CAMARA code, e.g. "INVALID_ARGUMENT"
   * @param {string} message human-readable text from the gateway
   * @param {number|null} [retryAfter] seconds from a Retry-After header
   */
  constructor(status, code, message, retryAfter = null) {
    super(`${code}: ${message}`);
    this.name = "RtcGateError";
    this.status = status;
    this.code = code;
    this.detail = message;
    this.retryAfter = retryAfter;
  }

  /** Whether trying again later may succeed (draining node, rate limit, network). */
  get retryable() {
    return this.status === 0 || this.status === 429 || this.status === 503;
  }
}

/**
 * Turns a non-2xx fetch Response into an RtcGateError. A body that is not an ErrorInfo
 * still gives a typed error, with the code derived from the status.
 * @param {Response} resp
 * @returns {Promise<RtcGateError>}
 */
export async function errorFrom(resp) {
  let info = null;
  try {
    info = await resp.json();
  } catch {
    info = null;
  }
  const retry = Number.parseInt(resp.headers?.get?.("retry-after") ?? "", 10);
  const code =
    info && typeof info.code === "string" ? info.code : codeForStatus(resp.status);
  const message =
    info && typeof info.message === "string" ? info.message : `HTTP ${resp.status}`;
  return new RtcGateError(resp.status, code, message, Number.isNaN(retry) ? null : retry);
}

function codeForStatus(status) {
  return (
    {
      400: "INVALID_ARGUMENT",
      401: "UNAUTHENTICATED",
      403: "PERMISSION_DENIED",
      404: "NOT_FOUND",
      409: "ALREADY_EXISTS",
      413: "PAYLOAD_TOO_LARGE",
      429: "TOO_MANY_REQUESTS",
      503: "UNAVAILABLE",
    }[status] ?? "INTERNAL"
  );
}

/** The short event name of a CloudEvent `type` (`…webrtc-events.v0.session-status`). */
export function eventKind(type) {
  const t = String(type ?? "");
  for (const kind of ["session-invitation", "session-status", "registration-ends", "subscription-ended"]) {
    if (t.endsWith(kind)) return kind;
  }
  return "unknown";
}

/**
 * One call. Events: `status` (detail `{status, reason}`), `track` (detail `{stream}`),
 * `ended` (detail `{status, reason}`).
 */
export class Call extends EventTarget {
  /**
   * @param {RtcGate} gate
   * @param {object} init
   * @param {string} init.id mediaSessionId
   * @param {"outgoing"|"incoming"} init.direction
   * @param {string} init.remote the other party's address
   * @param {RTCPeerConnection} init.pc
   * @param {string} [init.offer] the offer of an incoming call
   */
  constructor(gate, { id, direction, remote, pc, offer = null }) {
    super();
    this.gate = gate;
    this.id = id;
    this.direction = direction;
    this.remote = remote;
    this.pc = pc;
    this.status = "Initial";
    this.reason = null;
    this.incomingOffer = offer;
    this.remoteStream = null;
    this._answerApplied = direction === "incoming";
    this._lastSeq = 0;
    pc.ontrack = (ev) => {
      this.remoteStream = ev.streams?.[0] ?? null;
      this.dispatchEvent(new CustomEvent("track", { detail: { stream: this.remoteStream } }));
    };
  }

  /** Whether the call is over. */
  get ended() {
    return FINAL_STATUSES.includes(this.status);
  }

  /**
   * Applies one `session-status` event. Events older than the last one seen (by
   * `sequenceNumber`) are ignored; the first answer SDP is applied once.
   * @param {object} data the CloudEvent's `data`
   */
  async _onStatus(data) {
    const seq = Number(data.sequenceNumber ?? 0);
    if (seq && seq <= this._lastSeq) return;
    if (seq) this._lastSeq = seq;
    const answer = data.answer?.sdp;
    if (answer && !this._answerApplied) {
      this._answerApplied = true;
      await this.pc.setRemoteDescription({ type: "answer", sdp: answer });
    }
    this._setStatus(data.status, data.reason ?? data.statusInfo ?? null);
  }

  _setStatus(status, reason = null) {
    if (!status || status === this.status) return;
    this.status = status;
    this.reason = reason;
    this.dispatchEvent(new CustomEvent("status", { detail: { status, reason } }));
    if (this.ended) {
      this.pc.close();
      this.gate._forget(this.id);
      this.dispatchEvent(new CustomEvent("ended", { detail: { status, reason } }));
    }
  }

  /**
   * Answers an incoming call: the offer from the invitation, the local media, then
   * `PUT …/status {status: "Connected", answer}`.
   * @param {{stream?: MediaStream}} [opts]
   */
  async answer({ stream } = {}) {
    if (this.direction !== "incoming") throw new Error("only an incoming call can be answered");
    addTracks(this.pc, stream);
    await this.pc.setRemoteDescription({ type: "offer", sdp: this.incomingOffer });
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    const sdp = await this.gate._gatheredSdp(this.pc);
    return this._putStatus({ status: "Connected", answer: { sdp } });
  }

  /** Tells the caller the callee's phone is ringing (180). */
  ringing() {
    return this._putStatus({ status: "Ringing" });
  }

  /** Puts the call on hold (the gateway re-INVITEs toward IMS; no renegotiation here). */
  hold() {
    return this._putStatus({ status: "Hold" });
  }

  /** Resumes a held call. */
  resume() {
    return this._putStatus({ status: "Resume" });
  }

  /**
   * Sends DTMF tones in-band (RFC 4733 through RTCDTMFSender).
   * @param {string} tones digits 0-9, *, #, A-D
   * @param {number} [duration] ms per tone
   */
  sendDtmf(tones, duration = 100) {
    const sender = this.pc.getSenders().find((s) => s.track?.kind === "audio" && s.dtmf);
    if (!sender) throw new Error("no audio sender with DTMF on this call");
    sender.dtmf.insertDTMF(tones, duration);
  }

  /** Ends the call: cancel, decline or hang up, whichever fits its state. */
  async hangup() {
    if (this.ended) return;
    // Decided before the request: the gateway's own status event (Terminated, …) may
    // arrive on the channel before the DELETE's answer does.
    const status = ["Connected", "Hold", "Resume"].includes(this.status)
      ? "Terminated"
      : this.direction === "incoming"
        ? "Declined"
        : "SessionCancelled";
    await this.gate._request("DELETE", `${CALLS}/${encodeURIComponent(this.id)}`);
    if (!this.ended) this._setStatus(status, "local hangup");
  }

  /** Statistics of the peer connection, reduced to what a softphone shows. */
  async stats() {
    const report = await this.pc.getStats();
    const out = { packetsReceived: 0, packetsSent: 0, bytesReceived: 0, audioLevel: 0 };
    report.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        out.packetsReceived += s.packetsReceived ?? 0;
        out.bytesReceived += s.bytesReceived ?? 0;
        out.audioLevel = Math.max(out.audioLevel, s.audioLevel ?? 0);
      }
      if (s.type === "outbound-rtp" && s.kind === "audio") out.packetsSent += s.packetsSent ?? 0;
    });
    return out;
  }

  async _putStatus(body) {
    const info = await this.gate._request(
      "PUT",
      `${CALLS}/${encodeURIComponent(this.id)}/status`,
      body,
    );
    if (info?.status) this._setStatus(info.status);
    return info;
  }
}

function addTracks(pc, stream) {
  if (stream) {
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
  } else {
    pc.addTransceiver("audio", { direction: "sendrecv" });
  }
}

/**
 * A signed-in web user. Events: `incoming` (detail `{call}`), `registration-ends`
 * (detail `{reason}`), `channel` (detail `{state: "open"|"reconnecting"|"closed"}`; when
 * reconnecting, `tokenExpired` is true if the gateway closed the socket because the access
 * token expired or was revoked: set `gate.token` to a fresh one and the reconnect uses it),
 * `error` (detail `{error}`: an event that could not be applied, e.g. a bad answer SDP).
 */
export class RtcGate extends EventTarget {
  /**
   * @param {object} opts
   * @param {string} opts.baseUrl the API origin, e.g. "http://127.0.0.1:8080"
   * @param {string} opts.token a bearer access token
   * @param {typeof fetch} [opts.fetch]
   * @param {typeof WebSocket} [opts.WebSocket]
   * @param {typeof RTCPeerConnection} [opts.RTCPeerConnection]
   * @param {(attempt: number) => number} [opts.backoff] ms before reconnect `attempt`
   */
  constructor({ baseUrl, token, fetch: f, WebSocket: ws, RTCPeerConnection: pc, backoff }) {
    super();
    this.baseUrl = String(baseUrl).replace(/\/$/, "");
    this.token = token;
    this._fetch = f ?? globalThis.fetch.bind(globalThis);
    this._WebSocket = ws ?? globalThis.WebSocket;
    this._PeerConnection = pc ?? globalThis.RTCPeerConnection;
    this._backoff = backoff ?? ((n) => Math.min(250 * 2 ** n, 5000));
    this.registration = null;
    this.phoneNumber = null;
    this.calls = new Map();
    this._channel = null;
    this._lastChannelSeq = 0;
    this._closing = false;
    this._frames = Promise.resolve();
  }

  /**
   * Gets a dev token (`POST /dev/token`, loopback gateways only) and returns a client.
   * @param {string} baseUrl
   * @param {string} phoneNumber E.164, e.g. "+15550001"
   * @param {object} [opts] the constructor options besides baseUrl and token
   */
  static async withDevToken(baseUrl, phoneNumber, opts = {}) {
    const probe = new RtcGate({ ...opts, baseUrl, token: null });
    const tok = await probe._request("POST", "/dev/token", { phoneNumber });
    const gate = new RtcGate({ ...opts, baseUrl, token: tok.access_token });
    gate.phoneNumber = phoneNumber;
    return gate;
  }

  /**
   * Registers this device for the token's number.
   * @param {string} deviceId
   * @param {{expireTime?: string}} [opts] RFC 3339 registrationExpireTime
   */
  async register(deviceId, { expireTime } = {}) {
    const body = { deviceId };
    if (expireTime) body.registrationExpireTime = expireTime;
    this.registration = await this._request("POST", REGISTRATION, body);
    this.deviceId = deviceId;
    this.phoneNumber = this.registration.regInfo?.phoneNumber ?? this.phoneNumber;
    return this.registration;
  }

  /** Renews the registration (new expiry from the gateway's receipt time). */
  async refresh() {
    this.registration = await this._request("PUT", `${REGISTRATION}/${this._regId()}`, {});
    return this.registration;
  }

  /** Ends the registration and closes the channel. */
  async deregister() {
    const id = this._regId();
    this.closeChannel();
    await this._request("DELETE", `${REGISTRATION}/${id}`);
    this.registration = null;
  }

  /**
   * Creates the WebSocket notification channel and connects it. Resolves once open.
   * A dropped socket reconnects to the same channel with `last_seq`, so the gateway
   * replays what was missed and calls carry on.
   */
  async openChannel() {
    if (!this.deviceId) throw new Error("register before opening the channel");
    const ch = await this._request("POST", CHANNELS(this.deviceId), {
      channelType: "WebSockets",
    });
    this.channelUrl = ch.channelData?.channelURL;
    if (!this.channelUrl) throw new RtcGateError(0, "INTERNAL", "no channelURL in the answer");
    this._closing = false;
    await this._connect(0, true);
    return ch;
  }

  /** Closes the channel for good (no reconnect). */
  closeChannel() {
    this._closing = true;
    clearTimeout(this._reconnectTimer);
    this._channel?.close();
    this._channel = null;
  }

  /**
   * Connects the socket. The first connection of `openChannel` fails its promise when it
   * cannot open; once a channel has been open, a drop reconnects with backoff until
   * `closeChannel`, asking for every event after the last `channelseq` seen.
   */
  _connect(attempt, first = true) {
    const url = new URL(this.channelUrl);
    url.searchParams.set("access_token", this.token);
    if (this._lastChannelSeq) url.searchParams.set("last_seq", String(this._lastChannelSeq));
    const ws = new this._WebSocket(url.toString());
    this._channel = ws;
    return new Promise((resolve, reject) => {
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this.dispatchEvent(new CustomEvent("channel", { detail: { state: "open" } }));
        resolve();
      };
      // Frames are handled one after another: applying an answer is asynchronous, and
      // the status events behind it must not overtake it.
      ws.onmessage = (m) => {
        this._frames = this._frames
          .then(() => this._onFrame(m.data))
          .catch((error) => this.dispatchEvent(new CustomEvent("error", { detail: { error } })));
      };
      ws.onclose = (ev) => {
        if (this._channel !== ws) return;
        if (this._closing || (first && !opened)) {
          this._channel = null;
          this.dispatchEvent(new CustomEvent("channel", { detail: { state: "closed" } }));
          if (!opened) reject(new RtcGateError(0, "NETWORK", "the channel did not open"));
          return;
        }
        // 1008: the gateway closed the socket because the access token expired or was
        // revoked. A listener sets `gate.token` before the reconnect (after the backoff).
        const tokenExpired = ev?.code === 1008;
        this.dispatchEvent(
          new CustomEvent("channel", { detail: { state: "reconnecting", tokenExpired } }),
        );
        const next = opened ? 0 : attempt + 1;
        this._reconnectTimer = setTimeout(
          () => this._connect(next, false).catch(() => {}),
          this._backoff(next),
        );
        if (!opened) reject(new RtcGateError(0, "NETWORK", "reconnect failed"));
      };
    });
  }

  /** Handles one text frame: a CloudEvent, or the reply to a command sent on the socket. */
  async _onFrame(text) {
    let ev;
    try {
      ev = JSON.parse(text);
    } catch {
      return; // not JSON: nothing the gateway sends; ignored
    }
    const seq = Number(ev.channelseq ?? 0);
    if (seq) {
      if (seq <= this._lastChannelSeq) return; // a replayed frame seen before
      this._lastChannelSeq = seq;
    }
    const data = ev.data ?? {};
    switch (eventKind(ev.type)) {
      case "session-invitation":
        return this._onInvitation(data);
      case "session-status": {
        const call = this.calls.get(data.mediaSessionId);
        if (call) await call._onStatus(data);
        return;
      }
      case "registration-ends":
        this.registration = null;
        this.dispatchEvent(
          new CustomEvent("registration-ends", { detail: { reason: data.reason ?? null } }),
        );
        return;
      default:
        return;
    }
  }

  _onInvitation(data) {
    if (!data.mediaSessionId || this.calls.has(data.mediaSessionId)) return;
    const call = new Call(this, {
      id: data.mediaSessionId,
      direction: "incoming",
      remote: data.originatorAddress ?? "unknown",
      pc: new this._PeerConnection({}),
      offer: data.offer?.sdp ?? null,
    });
    call._lastSeq = Number(data.sequenceNumber ?? 0);
    this.calls.set(call.id, call);
    this.dispatchEvent(new CustomEvent("incoming", { detail: { call } }));
  }

  /**
   * Places a call: an offer with the local media, `POST /sessions`, then the answer from
   * the first `session-status` event that carries one.
   * @param {string} receiver "tel:+…" or "sip:…@…"; a bare "+…" becomes tel:
   * @param {{stream?: MediaStream, name?: string}} [opts]
   */
  async call(receiver, { stream, name } = {}) {
    const to = receiver.startsWith("+") ? `tel:${receiver}` : receiver;
    const pc = new this._PeerConnection({});
    addTracks(pc, stream);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const sdp = await this._gatheredSdp(pc);
    const body = {
      originatorAddress: `tel:${this.phoneNumber}`,
      receiverAddress: to,
      offer: { sdp },
    };
    if (name) body.originatorName = name;
    let info;
    try {
      info = await this._request("POST", CALLS, body, { registrationId: this._regId() });
    } catch (e) {
      pc.close();
      throw e;
    }
    const call = new Call(this, { id: info.mediaSessionId, direction: "outgoing", remote: to, pc });
    this.calls.set(call.id, call);
    call._setStatus(info.status ?? "Initial");
    return call;
  }

  /** Waits for ICE gathering to finish (host candidates only: fast) and returns the SDP. */
  async _gatheredSdp(pc) {
    if (pc.iceGatheringState !== "complete") {
      await new Promise((resolve) => {
        const done = () => pc.iceGatheringState === "complete" && resolve();
        pc.addEventListener?.("icegatheringstatechange", done);
        setTimeout(resolve, 2000); // whatever was gathered by then is enough for ICE-lite
        done();
      });
    }
    return pc.localDescription.sdp;
  }

  _forget(id) {
    this.calls.delete(id);
  }

  _regId() {
    if (!this.registration?.registrationId) throw new Error("not registered");
    return encodeURIComponent(this.registration.registrationId);
  }

  /** One REST request; a non-2xx answer becomes an RtcGateError. */
  async _request(method, path, body, headers = {}) {
    const h = { ...headers };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    if (body !== undefined) h["content-type"] = "application/json";
    let resp;
    try {
      resp = await this._fetch(this.baseUrl + path, {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new RtcGateError(0, "NETWORK", String(e?.message ?? e));
    }
    if (!resp.ok) throw await errorFrom(resp);
    if (resp.status === 204) return null;
    const text = await resp.text();
    return text ? JSON.parse(text) : null;
  }
}
