// Package apprise reproduces what Apprise 1.9.8's core does on the wire,
// shared by transports: the guests under guests/transports each speak one
// service, and this package holds the service-independent parts they all
// need to match Apprise (and the Python json, requests and urllib3 it
// uses) byte for byte.
//
//   - JSON as Python's json.dumps writes it by default: ", " and ": "
//     separators, keys in insertion order ([Object]), every character
//     outside printable ASCII escaped as lower-case \uXXXX ([Dumps]).
//   - Apprise's URL handling: its pre-processing quirks ([ParseURL]),
//     option parsing ([ParseBool], [ParseList], [Opt], [OptBool],
//     [Format]), credentials ([Credentials], [HasPassword]), host
//     validation ([IsHostname]) and the json://, form:// and xml://
//     webhooks' URL grammar ([ParseWebhook]).
//   - Python's quoting: [Quote], [Unquote], [QuotePlus], [URLEncode] and
//     requests' [Requote].
//   - Request parts as requests builds them: [Multipart], [BasicAuth],
//     [AttachmentBase64].
//   - Mapping the outcome to an sdk.SendResult: [HostFailure], [Outcome],
//     [RetryAfter], [HTTPText] and [Snippet].
//
// It imports only the standard library and guests/sdk, so it compiles for
// wasip1 like the guests that use it. Host calls (attachments, HTTP) go
// through the SDK and fail with sdk.ErrNoHost outside WebAssembly.
package apprise
