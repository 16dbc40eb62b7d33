// Package vonage is the Vonage adapter of telephony.Provider: the Vonage Voice API with NCCOs.
//
// Credential fields (RequiredFields): applicationId (the Vonage Application's ID), privateKey (the
// application's PEM RSA private key, secret) and signatureSecret (the account's signature secret
// for signed webhooks, secret).
//
// Rules and invariants:
//   - Every REST request goes to {BaseURL or https://api.nexmo.com}{path} with
//     "Authorization: Bearer <JWT>": a fresh RS256 token signed with the application's private
//     key, claims application_id, iat, exp (iat + 15 min) and a random jti. Verify is
//     GET /v1/calls?page_size=1.
//   - Place is POST /v1/calls {to:[{type:phone, number}], from:{type:phone, number}, answer_url,
//     answer_method POST, event_url, event_method POST, ringing_timer (1–120 s), length_timer
//     (1–86400 s), machine_detection "continue"}; numbers travel as digits without "+". Parley's
//     call ID is the callId query of the answer and event URLs, which Vonage calls back as given.
//     The provider call ID is the call's uuid.
//   - Hangup is PUT /v1/calls/{uuid} {"action":"hangup"}; Vonage's 404 for a call no longer live
//     counts as success.
//   - Provider errors (RFC 7807 style {type, title, detail, invalid_parameters}) become
//     *telephony.ProviderError: Code is the fragment of type ("unauthorized", "validation"…),
//     Message the detail plus each invalid parameter; 429, 5xx and network failures are
//     Retryable, with Retry-After when sent.
//   - Parse verifies Vonage's signed webhook before reading anything: the Authorization Bearer
//     JWT must be HS256 with the signature secret, unexpired, issued at most 5 minutes ago, for
//     this application_id (when the claim is present), and its payload_hash must be the hex
//     SHA-256 of the body (of its compact JSON) — required for a request with a body; for a GET
//     request (an answer_url set to GET) it is checked against the query as a JSON object when
//     present. The kind comes from the path: /voice with a callId query is Answered, /voice
//     without is Inbound, /status is Status. Event statuses map: started→initiating,
//     ringing→ringing, answered→in_progress, completed→completed (duration), machine→voicemail,
//     busy→busy, cancelled→canceled, unanswered and timeout→no_answer, rejected and
//     failed→failed; others (human, disconnected, input…) change nothing. Vonage does not number
//     its events (Sequence -1).
//   - Answer renders an NCCO (application/json): talk the greeting in the answer's language, then
//     connect the call to the media WebSocket (audio/l16;rate=16000, header callId, events to the
//     status URL); without a MediaURL the NCCO ends after the talk and so does the call. Reject
//     talks a fixed polite refusal (RejectText), never Parley's internal reason.
package vonage
