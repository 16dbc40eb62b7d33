// Package telnyx is the Telnyx adapter of telephony.Provider: Telnyx Call Control (Voice API v2).
//
// Credential fields (RequiredFields): apiKey (secret, a Telnyx API v2 key), connectionId (the
// Call Control Application's ID) and publicKey (the account's base64 Ed25519 webhook public key,
// Mission Control → Keys & Credentials → Public Key).
//
// Rules and invariants:
//   - Every REST request goes to {BaseURL or https://api.telnyx.com/v2}{path} with
//     "Authorization: Bearer <apiKey>" and a JSON body. Verify is
//     GET /call_control_applications/{connectionId}, so it checks the key and the application.
//   - Place is POST /calls {connection_id, to, from, webhook_url, webhook_url_method,
//     client_state, command_id, timeout_secs, time_limit_secs, answering_machine_detection}.
//     client_state is base64 of "<Parley's call ID>[;a=<answered, unix ms>][;end]"; Telnyx echoes
//     the latest one on every webhook of the call, so Parse names the call from the signed body
//     alone (Telnyx does not sign the URL, so a callId query is not trusted). webhook_url is the
//     call's AnswerURL (the /voice URL): Telnyx sends every event of a call to one URL, and the
//     call.answered event is what needs the answer commands. The provider call ID is the
//     call_control_id.
//   - Hangup is POST /calls/{call_control_id}/actions/hangup; Telnyx's "call has already ended"
//     (error 90018) counts as success.
//   - Provider errors ({"errors":[{code,title,detail}]}) become *telephony.ProviderError with the
//     first error's code and detail; 429 and 5xx and network failures are Retryable, with the
//     Retry-After header when Telnyx sends one.
//   - Parse verifies telnyx-signature-ed25519 (base64 Ed25519 signature of
//     "{telnyx-timestamp}|{raw body}") with the credential's public key and refuses a
//     telnyx-timestamp more than 5 minutes away from now, before reading the body. The event kind
//     comes from the event type, not the URL path (Telnyx sends every event to one URL):
//     call.initiated with direction incoming is Inbound; call.answered is Answered (status
//     in_progress); call.speak.ended of a greeting that should end the call is Answered with
//     Reason ReasonGreetingEnded; everything else is Status. call.hangup maps hangup_cause onto
//     the call states (normal_clearing and time_limit→completed, user_busy and
//     call_rejected→busy, timeout and no_answer→no_answer, originator_cancel→canceled, others
//     failed); AMD "machine" is voicemail. Telnyx does not number its webhooks (Sequence -1) and
//     call.hangup carries no billable duration: DurationSeconds is the hang-up's occurred_at minus
//     the answer time Answer stored in client_state (0 when Answer never ran for the call).
//     Telnyx has no ringing webhook for a dialled call.
//   - Telnyx is driven by commands, not markup: Answer and Reject send Call Control commands and
//     return an empty 200. Answer on an Inbound event answers the call (client_state = the call
//     ID, so the following call.answered names it; with Answer.StatusURL, webhook_url = the call's
//     own voice URL with ?callId=, so its later events are routed like an outbound call's); on a
//     Status event it does nothing (Telnyx sends status events to the voice URL too, and the
//     platform may call Answer for every voice request); on an Answered event it records the answer time
//     in client_state and speaks the greeting
//     (actions/speak) and, with a MediaURL, starts the media stream (actions/streaming_start);
//     without one, the greeting's call.speak.ended comes back as Answered with
//     ReasonGreetingEnded and Answer then hangs up. Reject refuses an inbound call
//     (actions/reject, cause CALL_REJECTED) and hangs up any other. Commands carry a command_id
//     derived from the call ID, so a webhook Telnyx delivers twice does not run a command twice.
package telnyx
