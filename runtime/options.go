package runtime

import (
	"context"
	"log/slog"
	"net/netip"
	"time"
)

// Defaults for [Limits]; a zero field in Options.Limits takes these.
const (
	DefaultMemory          = 64 << 20
	DefaultCallTimeout     = 30 * time.Second
	DefaultMaxResult       = 1 << 20
	DefaultMaxRequestBody  = 10 << 20
	DefaultMaxResponseBody = 1 << 20
	DefaultRequestTimeout  = 10 * time.Second
	DefaultMaxRequests     = 16
	DefaultMaxRedirects    = 3
	DefaultMaxKVValue      = 64 << 10
	DefaultMaxLog          = 64 << 10
	DefaultMaxInstances    = 4
	DefaultMaxIdle         = 4
	// DefaultIdleUnload releases a guest unused for this long.
	DefaultIdleUnload = 10 * time.Minute
	// DefaultIdleTrim trims a guest unused for this long.
	DefaultIdleTrim = time.Minute
)

// Limits bound what one guest may do. The zero value of each field means
// "use the default" (the Default… constants).
type Limits struct {
	// Memory is the most linear memory one instance may use, in bytes,
	// rounded up to 64 KiB pages. A Go guest needs at least 2.7 MiB.
	Memory uint64
	// CallTimeout bounds one export call; when it passes the module is
	// closed and the call fails with an error that is
	// context.DeadlineExceeded.
	CallTimeout time.Duration
	// MaxResult is the largest result an export may return, in bytes.
	MaxResult int
	// MaxRequestBody and MaxResponseBody cap one HTTP request's body (raw,
	// attachment or multipart) and one response's body, in bytes.
	MaxRequestBody  int64
	MaxResponseBody int64
	// RequestTimeout bounds one HTTP request including redirects.
	RequestTimeout time.Duration
	// MaxRequests is the number of HTTP requests one call may make.
	MaxRequests int
	// MaxRedirects is the number of redirects one request may follow; each
	// hop must go to an allowed host. Negative means none.
	MaxRedirects int
	// MaxKVValue caps one kv_set value, in bytes.
	MaxKVValue int
	// MaxLog caps what one call may write to the log (log import plus
	// stdout and stderr), in bytes; the rest is dropped.
	MaxLog int
	// MaxInstances bounds the instances of one guest alive at once; more
	// concurrent calls wait.
	MaxInstances int
	// MaxIdle bounds the idle instances kept for reuse per guest.
	MaxIdle int
	// ExtraHosts may be reached by every call of the guest, at any address,
	// loopback included. Meant for tests and for LAN services the owner
	// names in the configuration.
	ExtraHosts []string
}

// withDefaults returns l with zero fields set from def.
func (l Limits) withDefaults(def Limits) Limits {
	set := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if l.Memory == 0 {
		l.Memory = def.Memory
	}
	if l.CallTimeout == 0 {
		l.CallTimeout = def.CallTimeout
	}
	if l.MaxRequestBody == 0 {
		l.MaxRequestBody = def.MaxRequestBody
	}
	if l.MaxResponseBody == 0 {
		l.MaxResponseBody = def.MaxResponseBody
	}
	if l.RequestTimeout == 0 {
		l.RequestTimeout = def.RequestTimeout
	}
	set(&l.MaxResult, def.MaxResult)
	set(&l.MaxRequests, def.MaxRequests)
	set(&l.MaxRedirects, def.MaxRedirects)
	set(&l.MaxKVValue, def.MaxKVValue)
	set(&l.MaxLog, def.MaxLog)
	set(&l.MaxInstances, def.MaxInstances)
	set(&l.MaxIdle, def.MaxIdle)
	if l.ExtraHosts == nil {
		l.ExtraHosts = def.ExtraHosts
	}
	return l
}

var defaultLimits = Limits{
	Memory: DefaultMemory, CallTimeout: DefaultCallTimeout, MaxResult: DefaultMaxResult,
	MaxRequestBody: DefaultMaxRequestBody, MaxResponseBody: DefaultMaxResponseBody,
	RequestTimeout: DefaultRequestTimeout, MaxRequests: DefaultMaxRequests,
	MaxRedirects: DefaultMaxRedirects, MaxKVValue: DefaultMaxKVValue, MaxLog: DefaultMaxLog,
	MaxInstances: DefaultMaxInstances, MaxIdle: DefaultMaxIdle,
}

// Resolver looks up the addresses of a host name; *net.Resolver implements
// it. The runtime resolves each name once per connection and dials the
// address it checked.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options configure an [Engine]. The zero value works: no on-disk cache,
// slog.Default, an in-memory KV store, default limits.
type Options struct {
	// CacheDir holds the on-disk compilation cache and the manifests of
	// guests already checked, so a restart neither recompiles nor
	// re-instantiates them (usually data_path/cache/wasm). The embedder must
	// keep other writers out of it. Empty means compile in memory only.
	CacheDir string
	// Logger receives guest logs and output, with "guest" and "scope" keys.
	Logger *slog.Logger
	// KV is the guests' persistent store; nil means an in-memory one.
	KV KV
	// Limits apply to every guest; GuestLimits overrides them per guest
	// name, field by field.
	Limits      Limits
	GuestLimits map[string]Limits
	// Resolver resolves host names for guest HTTP requests; nil means
	// net.DefaultResolver.
	Resolver Resolver
	// Clock is the host clock for the now import and request times; nil
	// means time.Now.
	Clock func() time.Time
	// UserAgent is sent when a guest sets none; default "moonrelay".
	UserAgent string
	// IdleUnload is how long a guest may go without a call before its
	// machine code, instances and snapshot are released; the next call
	// loads it again from the disk cache (~0.1–0.2 s on a PC). Zero means
	// DefaultIdleUnload; negative keeps every guest loaded.
	IdleUnload time.Duration
	// IdleTrim is how long a guest may go without a call before the
	// kernel may take back the memory of its idle instances that equals
	// its snapshot (a few hundred KiB to ~2 MiB); the guest stays loaded
	// and its next call pays ~1 ms of page faults. Zero means
	// DefaultIdleTrim; negative never trims.
	IdleTrim time.Duration
	// KeepCodeAnonymous leaves machine code in wazero's anonymous memory
	// instead of mapping it from files in CacheDir/code (internals.go): for
	// measuring what the files save.
	KeepCodeAnonymous bool
	// Redirect sends requests for a host elsewhere, keeping the Host header:
	// "api.telegram.org" → "http://127.0.0.1:8080". The policy is checked
	// against the original host. Meant for tests of fixed-host services,
	// which must never reach the real service.
	Redirect map[string]string
}
