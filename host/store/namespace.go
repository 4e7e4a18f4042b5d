package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Namespace is a set of string keys with byte values, kept in one bbolt
// bucket. Get one from [Store.Namespace] (each write commits on its own) or
// [Tx.Namespace] (writes commit with the transaction). Keys are 1 to 32768
// bytes; an empty key fails with [ErrInvalidName].
//
// A Namespace from [Store.Namespace] is safe for concurrent use. Values
// returned or passed to callbacks are copies the caller may keep and change.
type Namespace struct {
	ref
}

// Name returns the namespace's name, as given.
func (n *Namespace) Name() string { return n.name }

// Get returns the value stored under key and whether it was found. A missing
// key or namespace is not an error.
func (n *Namespace) Get(key string) ([]byte, bool, error) {
	if err := checkKey(key); err != nil {
		return nil, false, n.errorf("get", key, err)
	}
	var value []byte
	err := n.view(func(b *bolt.Bucket) error {
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(key)); v != nil {
			value = clone(v)
		}
		return nil
	})
	if err != nil {
		return nil, false, n.errorf("get", key, err)
	}
	return value, value != nil, nil
}

// Put stores value under key, replacing any previous value. From
// [Store.Namespace], the value is on disk (fsync'd) when Put returns nil.
// A nil value is stored as an empty one.
func (n *Namespace) Put(key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return n.errorf("put", key, err)
	}
	value = n.own(value)
	err := n.update(func(b *bolt.Bucket) error {
		return b.Put([]byte(key), value)
	})
	if err != nil {
		return n.errorf("put", key, err)
	}
	return nil
}

// Delete removes key. Deleting a missing key is not an error.
func (n *Namespace) Delete(key string) error {
	if err := checkKey(key); err != nil {
		return n.errorf("delete", key, err)
	}
	err := n.update(func(b *bolt.Bucket) error {
		if b.Get([]byte(key)) == nil {
			// Not there, or a nested namespace: nothing to delete.
			return nil
		}
		return b.Delete([]byte(key))
	})
	if err != nil {
		return n.errorf("delete", key, err)
	}
	return nil
}

// ForEach calls fn for every key in byte order, skipping nested namespaces.
// It stops at the first error from fn and returns that error unchanged.
//
// # Notes
//
//   - ForEach reads all entries into memory first, then calls fn: fn sees one
//     consistent snapshot and may itself write to this or other namespaces
//     (with the same Namespace or Tx it came from).
//   - Meant for namespaces of modest size (hundreds of entries), which is
//     all moonrelay keeps.
func (n *Namespace) ForEach(fn func(key string, value []byte) error) error {
	var entries []entry
	err := n.view(func(b *bolt.Bucket) error {
		entries = snapshot(b)
		return nil
	})
	if err != nil {
		return fmt.Errorf("namespace %q: read: %w", n.name, err)
	}
	for _, e := range entries {
		if err := fn(string(e.key), e.value); err != nil {
			return err
		}
	}
	return nil
}

// GetJSON decodes the JSON value stored under key into v, which must be a
// pointer, and reports whether key was found. When it was not, v is left
// alone.
func (n *Namespace) GetJSON(key string, v any) (bool, error) {
	data, ok, err := n.Get(key)
	if err != nil || !ok {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, n.errorf("decode", key, err)
	}
	return true, nil
}

// PutJSON stores v encoded as JSON under key, like [Namespace.Put].
func (n *Namespace) PutJSON(key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return n.errorf("encode", key, err)
	}
	return n.Put(key, data)
}

func (n *Namespace) errorf(op, key string, err error) error {
	return fmt.Errorf("namespace %q: %s %q: %w", n.name, op, key, err)
}

func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidName)
	}
	if len(key) > bolt.MaxKeySize {
		return fmt.Errorf("%w: key longer than %d bytes", ErrInvalidName, bolt.MaxKeySize)
	}
	return nil
}

type entry struct {
	key, value []byte
}

// snapshot copies every key/value pair of b, skipping nested buckets.
func snapshot(b *bolt.Bucket) []entry {
	if b == nil {
		return nil
	}
	var entries []entry
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			continue // a nested namespace
		}
		entries = append(entries, entry{key: clone(k), value: clone(v)})
	}
	return entries
}
