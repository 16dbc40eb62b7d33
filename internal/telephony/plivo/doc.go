// Package plivo is the Plivo adapter of telephony.Provider: a small client for Plivo's Voice
// API (the Call resource), the verifier and parser of the requests Plivo sends Parley (answer,
// ring, hang-up and machine-detection callbacks, signed with X-Plivo-Signature-V3), and the
// Plivo XML renderer of answers.
//
// Credential fields (Config.Fields), both required: authId (the account or subaccount Auth ID,
// "MA…"/"SA…") and authToken (secret). The Auth Token authenticates API requests (HTTP Basic
// authId:authToken) and is the key Plivo signs callbacks with.
//
// Rules:
//   - Place: POST {base}/v1/Account/{authId}/Call/ with a JSON body: from/to as digits without
//     "+" (Plivo's documented format), answer_url = PlaceRequest.AnswerURL (which carries
//     ?callId=), ring_url and hangup_url = StatusURL (POST), ring_timeout and time_limit in
//     seconds, machine_detection=true with machine_detection_url = StatusURL. The result's
//     ProviderCallID is Plivo's request_uuid.
//   - Hangup: DELETE …/Call/{uuid}/ ends a live call; when Plivo answers 404 (the call has not
//     been answered yet, or the ID is the request_uuid of a queued call) DELETE …/Request/{uuid}/
//     cancels the outbound request; 404 there too means the call has already ended: not an error.
//   - Verify: GET …/v1/Account/{authId}/.
//   - Errors: Plivo's {"api_id", "error"} (or a plain-text body) becomes a
//     *telephony.ProviderError; 429, 5xx and network failures are Retryable, Retry-After honoured.
//   - Parse verifies X-Plivo-Signature-V3 (or -Ma-V3, each possibly a comma-separated list) with
//     X-Plivo-Signature-V3-Nonce exactly as Plivo's SDKs compute it: base64(HMAC-SHA256(authToken,
//     URL-without-query + "?" + sorted query "k=v&…" + "." + sorted POST params "kv…" + "." +
//     nonce)), before reading anything. The path decides the kind: …/status → Status; …/voice with
//     callId → Answered, without → Inbound. CallStatus maps onto telephony statuses (cancel →
//     canceled, timeout → failed); a machine-detection callback with Machine=true is
//     StatusVoicemail. Numbers are reported in E.164 ("+" added). Plivo does not number its
//     callbacks (Sequence -1).
//   - Answer renders Plivo XML: <Speak> the greeting, then a bidirectional <Stream
//     keepCallAlive="true"> (audio/x-mulaw 8 kHz) to the media URL, or <Hangup/> when there is no
//     media URL. Reject renders <Hangup reason="rejected"/> for an unknown number, reason "busy"
//     otherwise (the call is not answered).
package plivo
