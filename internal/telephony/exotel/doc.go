// Package exotel is the Exotel adapter of telephony.Provider: Exotel's Voice v1 API
// (connect-to-flow) and the flow's applets (Greeting and Voicebot) calling Parley back.
//
// Credential fields (RequiredFields): accountSid, apiKey, apiToken (secret), subdomain (the
// account's API host: api.exotel.com for Singapore, api.in.exotel.com for Mumbai; anything not
// under exotel.com is refused, since the credential is sent there) and appId (the call flow, App
// Bazaar app, that outbound calls run). Parley adds callbackToken (CallbackTokenField, secret), a
// random per-credential token.
//
// Rules and invariants:
//   - Every REST request goes to {BaseURL or https://<subdomain>}/v1/Accounts/{accountSid}/… with
//     HTTP Basic apiKey:apiToken and a form-encoded body; .json paths answer JSON. Verify is
//     GET …/Calls.json?PageSize=1.
//   - Place is POST …/Calls/connect.json {From: the callee, CallerId: the ExoPhone,
//     Url: http://my.exotel.com/{sid}/exoml/start_voice/{appId}, CallType trans, CustomField:
//     Parley's call ID, StatusCallback: the status URL with ?token=, StatusCallbackContentType
//     application/json, StatusCallbackEvents terminal and answered, TimeOut, TimeLimit (≤ 14400)}.
//     Exotel calls the callee first and runs the flow. Its connect API has no answering-machine
//     detection (MachineDetection is ignored). The provider call ID is Call.Sid.
//   - Hangup returns ErrNoHangup: Exotel's API cannot end a call in progress (the call ends with
//     its flow or at TimeLimit).
//   - Provider errors ({"RestException": {Status, Message, Code}}) become *telephony.ProviderError;
//     429 (Exotel's 200 requests/min limit), 5xx and network failures are Retryable, with
//     Retry-After when sent.
//   - Exotel signs nothing, so Parse first checks the URL's token query parameter (exactly one,
//     compared in constant time with callbackToken; a credential without a token accepts nothing)
//     and only then reads the request. /voice requests come from the flow's applets (GET,
//     parameters in the query): with a CustomField (outbound calls) they are Answered for that
//     call ID, without one Inbound; with &applet=voicebot in the URL the event's Reason is
//     ReasonVoicebot. /status requests are the StatusCallback (JSON, form or multipart body):
//     EventType answered → in_progress; Status completed (voicemail when a leg's AnsweredBy is
//     Machine), busy, no-answer, failed, canceled. DurationSeconds is ConversationDuration, or the
//     longest leg's OnCallDuration. Inbound calls get no StatusCallback: a Passthru applet at the
//     end of the flow, pointed at the status URL, is read as the end of the call (completed,
//     duration CurrentTime − StartTime). Exotel does not number callbacks (Sequence -1) and its
//     times carry no zone, so OccurredAt is left zero.
//   - Answer: the Greeting applet ("Read text like a robot" set to the voice URL) gets the
//     greeting as text/plain (exactly that Content-Type, as Exotel requires), spoken by Exotel's
//     text-to-speech; the Voicebot applet (URL: the voice URL with &applet=voicebot) gets
//     {"url": MediaURL}, or a 404 when there is no stream, so the flow moves on to its Hangup.
//     Reject answers the Greeting applet with a fixed polite refusal (RejectText) and the Voicebot
//     applet with no stream.
package exotel
