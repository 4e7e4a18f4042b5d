package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Queue is a list of items under increasing ids, kept in one bbolt bucket:
// the notification outbox and the delivery history rings. Get one from
// [Store.Queue] (each write commits on its own) or [Tx.Queue] (writes commit
// with the transaction).
//
// Ids start at 1 and only grow: an id is never handed out twice, even after
// its item is deleted or the process restarts. Each id is stored as an 8-byte
// big-endian key, so key order is id order.
//
// A Queue from [Store.Queue] is safe for concurrent use. Values returned or
// passed to callbacks are copies the caller may keep and change.
type Queue struct {
	ref
}

// Name returns the queue's name, as given.
func (q *Queue) Name() string { return q.name }

// Append stores value as a new item and returns its id, greater than every
// id handed out before by this queue. From [Store.Queue], the item is on
// disk (fsync'd) when Append returns nil.
func (q *Queue) Append(value []byte) (uint64, error) {
	value = q.own(value)
	var id uint64
	err := q.update(func(b *bolt.Bucket) error {
		var err error
		if id, err = b.NextSequence(); err != nil {
			return err
		}
		return b.Put(idKey(id), value)
	})
	if err != nil {
		return 0, fmt.Errorf("queue %q: append: %w", q.name, err)
	}
	return id, nil
}

// Get returns the item with the given id and whether it exists.
func (q *Queue) Get(id uint64) ([]byte, bool, error) {
	var value []byte
	err := q.view(func(b *bolt.Bucket) error {
		if b == nil {
			return nil
		}
		if v := b.Get(idKey(id)); v != nil {
			value = clone(v)
		}
		return nil
	})
	if err != nil {
		return nil, false, q.errorf("get", id, err)
	}
	return value, value != nil, nil
}

// Replace stores value as the item with the given id, for example to count
// a failed delivery attempt. It fails with [ErrNotFound] if the item does
// not exist, so that an item deleted once delivered never comes back.
func (q *Queue) Replace(id uint64, value []byte) error {
	value = q.own(value)
	err := q.update(func(b *bolt.Bucket) error {
		if b.Get(idKey(id)) == nil {
			return ErrNotFound
		}
		return b.Put(idKey(id), value)
	})
	if err != nil {
		return q.errorf("replace", id, err)
	}
	return nil
}

// Delete removes the item with the given id. Deleting a missing item is not
// an error.
func (q *Queue) Delete(id uint64) error {
	err := q.update(func(b *bolt.Bucket) error {
		return b.Delete(idKey(id))
	})
	if err != nil {
		return q.errorf("delete", id, err)
	}
	return nil
}

// ForEach calls fn for every item in id order. It stops at the first error
// from fn and returns that error unchanged. Like [Namespace.ForEach], it
// reads all items first, so fn may delete or replace items as it goes.
func (q *Queue) ForEach(fn func(id uint64, value []byte) error) error {
	var entries []entry
	err := q.view(func(b *bolt.Bucket) error {
		entries = snapshot(b)
		for _, e := range entries {
			if len(e.key) != 8 {
				return fmt.Errorf("key %q is not a queue id; is %q also used as a namespace?", e.key, q.name)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue %q: read: %w", q.name, err)
	}
	for _, e := range entries {
		if err := fn(binary.BigEndian.Uint64(e.key), e.value); err != nil {
			return err
		}
	}
	return nil
}

// Trim deletes the oldest items until at most keep remain, and returns how
// many it deleted. A history ring appends and trims in one [Store.Update].
func (q *Queue) Trim(keep int) (int, error) {
	if keep < 0 {
		keep = 0
	}
	deleted := 0
	err := q.update(func(b *bolt.Bucket) error {
		// A cursor also sees items appended earlier in this transaction.
		var keys [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v != nil {
				keys = append(keys, clone(k))
			}
		}
		for _, k := range keys[:max(len(keys)-keep, 0)] {
			if err := b.Delete(k); err != nil {
				return err
			}
			deleted++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("queue %q: trim to %d: %w", q.name, keep, err)
	}
	return deleted, nil
}

func (q *Queue) errorf(op string, id uint64, err error) error {
	return fmt.Errorf("queue %q: %s %d: %w", q.name, op, id, err)
}

func idKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), id)
}
