package runtime

import (
	"context"
	"sync"
)

// KV is the persistent store behind the kv_get and kv_set imports. The
// runtime passes the guest's name and a key already prefixed with the
// call's scope ("<scope>/<key>"), so one notifier never reads another's
// values. Implementations must be safe for concurrent use.
type KV interface {
	// Get returns the value of key and whether it exists.
	Get(ctx context.Context, guest, key string) ([]byte, bool, error)
	// Set stores val under key.
	Set(ctx context.Context, guest, key string, val []byte) error
}

// MemKV is an in-memory [KV] for tests and for running without a store.
// The zero value is ready to use.
type MemKV struct {
	mu sync.Mutex
	m  map[string][]byte
}

var _ KV = (*MemKV)(nil)

// Get implements KV.
func (s *MemKV) Get(_ context.Context, guest, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[guest+"\x00"+key]
	return append([]byte(nil), v...), ok, nil
}

// Set implements KV.
func (s *MemKV) Set(_ context.Context, guest, key string, val []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[guest+"\x00"+key] = append([]byte(nil), val...)
	return nil
}
