// Package twilio is the Twilio adapter of telephony.Provider: a small client for Twilio's
// Programmable Voice REST API (2010-04-01 Calls resource) and the verifier and parser of the
// requests Twilio sends Parley (voice requests and status callbacks, signed with
// X-Twilio-Signature), and the TwiML renderer of answers.
//
// Credential fields (Config.Fields):
//   - accountSid (required): the account (or subaccount) SID, "AC…".
//   - authToken (secret): the account's Auth Token. It authenticates API requests and is the only
//     key Twilio signs webhooks with, so a credential without it can place calls but Parse refuses
//     every request (ErrBadSignature).
//   - apiKeySid + apiKeySecret (secret): an API key ("SK…") used for API requests instead of the
//     Auth Token. Either authToken or both apiKeySid and apiKeySecret are required; when both are
//     given the API key authenticates API requests and the Auth Token checks signatures.
//
// Rules:
//   - Place: POST {base}/2010-04-01/Accounts/{accountSid}/Calls.json, form-encoded, HTTP Basic;
//     Url = PlaceRequest.AnswerURL (which already carries ?callId=), StatusCallback = StatusURL
//     with the events initiated, ringing, answered and completed; Timeout (ring seconds, 1–600),
//     TimeLimit (seconds) and MachineDetection=Enable map the request's options. The result's
//     ProviderCallID is the CallSid.
//   - Hangup: POST …/Calls/{CallSid}.json Status=completed (cancels a queued or ringing call, ends
//     one in progress). A call that has already ended (404, or 400 with code 21220) is not an error.
//   - Verify: GET …/Accounts/{accountSid}.json.
//   - Errors: Twilio's JSON error ({code, message, more_info, status}) becomes a
//     *telephony.ProviderError; 429, 5xx and network failures are Retryable, Retry-After honoured.
//   - Parse verifies X-Twilio-Signature (HMAC-SHA1 with the Auth Token over the exact URL followed
//     by the sorted POST parameters, each name then value; tried with and without the port as the
//     official SDKs do; JSON bodies by the bodySHA256 query parameter) before reading anything.
//     The URL's path decides the kind: …/status → Status; …/voice with callId in the query →
//     Answered; …/voice without → Inbound. CallStatus maps onto telephony statuses; AnsweredBy
//     machine_* (machine detection) turns an answer or a completion into StatusVoicemail.
//     SequenceNumber orders callbacks (-1 when absent); Timestamp is OccurredAt.
//   - Answer renders TwiML: <Say> the greeting, then <Connect><Stream> to the media URL (with a
//     callId <Parameter>), or <Hangup/> when there is no media URL. Reject renders <Reject>:
//     reason "rejected" (the caller hears a not-in-service message) for an unknown number, "busy"
//     otherwise; an unanswered rejected call costs nothing.
package twilio
