package config

import (
	"net/netip"
	"strings"
)

// redactedText replaces hidden values.
const redactedText = "<redacted>"

// Redacted returns the effective config, defaults filled in, for the
// server.config endpoint and for logs. It has one entry per section, shaped
// like the file: {"server": {...}, "notifier": {"phone": {...}}, ...}.
// Sizes are in bytes and request_timeout in seconds. Component sections
// hold their raw keys.
//
// Nothing secret is included: the values of the secrets file never appear
// (only [secrets] path does); a key whose name contains "token",
// "password", "api_key" or "secret" has its value replaced by
// "<redacted>"; and in a URL with a password ("mqtt://user:pw@host") only
// the password is replaced. The result is a fresh map the caller may keep.
func (c *Config) Redacted() map[string]any {
	s, a, k := c.Server, c.Authorization, c.Klippy
	clients := make([]any, len(a.TrustedClients))
	for i, p := range a.TrustedClients {
		clients[i] = clientString(p)
	}
	domains := make([]any, len(a.CORSDomains))
	for i, d := range a.CORSDomains {
		domains[i] = d
	}
	// Core sections are redacted too: a URL with a password may sit in any key.
	out := map[string]any{
		"server": map[string]any{
			"host":                       s.Host,
			"port":                       int64(s.Port),
			"data_path":                  s.DataPath,
			"max_upload_size":            s.MaxUploadSize,
			"enable_debug_endpoints":     s.EnableDebugEndpoints,
			"max_websocket_message_size": s.MaxWebsocketMessageSize,
		},
		"authorization": map[string]any{
			"trusted_clients": clients,
			"cors_domains":    domains,
		},
		"secrets": map[string]any{"path": c.Secrets.Path},
		"klippy": map[string]any{
			"uds_address":     k.UDSAddress,
			"request_timeout": k.RequestTimeout.Seconds(),
		},
	}
	for name, section := range out {
		out[name] = redact(section)
	}
	for _, sec := range c.Sections {
		values := redact(deepCopy(sec.raw))
		if sec.Instance == "" {
			out[sec.Kind] = values
			continue
		}
		// Instance names are structure, not keys: they are never redacted.
		group, _ := out[sec.Kind].(map[string]any)
		if group == nil {
			group = map[string]any{}
			out[sec.Kind] = group
		}
		group[sec.Instance] = values
	}
	return out
}

// clientString writes a trusted client back as the owner would: a single
// address without its /32.
func clientString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// redact hides secret-looking values in place and returns v.
func redact(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if secretKey(k) {
				v[k] = redactedText
			} else {
				v[k] = redact(e)
			}
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = redact(e)
		}
		return v
	case string:
		return redactURLPassword(v)
	default:
		return v
	}
}

// secretKey reports whether a key's name says its value is secret.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, word := range []string{"token", "password", "api_key", "apikey", "secret"} {
		if strings.Contains(k, word) {
			return true
		}
	}
	return false
}

// redactURLPassword replaces the password of scheme://user:password@host.
// It works on the text, so a template such as
// "mqtt://me:{{ secrets.mqtt }}@broker" is handled as well as a plain URL.
func redactURLPassword(s string) string {
	scheme := strings.Index(s, "://")
	if scheme < 0 {
		return s
	}
	rest := s[scheme+3:]
	// userinfo ends at the last '@' before the path begins
	end := len(rest)
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		end = i
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return s
	}
	colon := strings.Index(rest[:at], ":")
	if colon < 0 {
		return s
	}
	return s[:scheme+3] + rest[:colon+1] + redactedText + rest[at:]
}
