package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Errors callers branch on. Errors returned by this package wrap them, so
// test with [errors.Is].
var (
	// ErrLocked means another process holds the database file open.
	ErrLocked = errors.New("in use by another moonrelay process")
	// ErrCorrupt means the database file is damaged or is not a bbolt
	// database; the message says what the owner can do.
	ErrCorrupt = errors.New("damaged")
	// ErrClosed means the Store was closed.
	ErrClosed = errors.New("store is closed")
	// ErrInvalidName means a namespace name or a key is empty or too long.
	ErrInvalidName = errors.New("invalid name")
	// ErrNotFound means a queue item does not exist (see [Queue.Replace]).
	ErrNotFound = errors.New("not found")
)

// DefaultLockTimeout is how long [Open] waits for another process to release
// the database file before it gives up with [ErrLocked].
const DefaultLockTimeout = 2 * time.Second

// Store is an open database file. Create one with [Open] and release it with
// [Store.Close]. It is safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string

	closeOnce sync.Once
	closeErr  error
}

// Option changes how [Open] opens a database.
type Option func(*options)

type options struct {
	lockTimeout time.Duration
}

// WithLockTimeout sets how long [Open] waits for the file lock held by
// another process, [DefaultLockTimeout] by default. d must be positive;
// other values keep the default, since waiting forever would hang start-up
// without a word.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.lockTimeout = d
		}
	}
}

// Open opens the database file at path, creating it (mode 0600) and its
// parent directory (mode 0700) if they do not exist, and checks its
// consistency.
//
// If another process holds the file, Open waits up to the lock timeout (see
// [WithLockTimeout]) and then fails with an error wrapping [ErrLocked] that
// names the holder's pid where the system tells it. If the file is damaged or
// is not a bbolt database, the error wraps [ErrCorrupt] and tells the owner
// how to start over.
func Open(path string, opts ...Option) (*Store, error) {
	o := options{lockTimeout: DefaultLockTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" {
		return nil, fmt.Errorf("open database: %w: empty path", ErrInvalidName)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	fi, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	if statErr == nil && fi.Size() > 0 {
		if err := checkFile(path, o.lockTimeout); err != nil {
			return nil, err
		}
	}

	db, err := openBolt(path, o.lockTimeout, false)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path}
	if created {
		// kill -9 does not need this, but a power cut right after the first
		// commit could otherwise lose the file's directory entry.
		if err := syncDir(dir); err != nil {
			return nil, errors.Join(fmt.Errorf("open database %s: sync directory: %w", path, err), s.Close())
		}
	}
	return s, nil
}

// checkFile opens an existing file read-only and walks every page, so that
// damage is found at start-up rather than during a print. It runs before the
// read-write open because bbolt panics on some damage (a bad freelist) when
// it opens for writing, and a panicked open leaves the file mapped, and so
// locked, until the process exits; a read-only Check reports the same damage
// as errors and closes cleanly. The file is small, so the walk is quick.
func checkFile(path string, lockTimeout time.Duration) error {
	db, err := openBolt(path, lockTimeout, true)
	if err != nil {
		return err
	}
	err = db.View(func(tx *bolt.Tx) error {
		var problems []error
		for e := range tx.Check() {
			problems = append(problems, e)
		}
		if len(problems) > 0 {
			return corruptError(path, errors.Join(problems...))
		}
		return nil
	})
	if closeErr := db.Close(); closeErr != nil {
		err = errors.Join(err, fmt.Errorf("close database %s after checking it: %w", path, closeErr))
	}
	return err
}

// openBolt opens the file with NoSync left false, and turns bbolt's lock
// timeout, format errors and panics on damaged pages into messages for the
// owner.
func openBolt(path string, lockTimeout time.Duration, readOnly bool) (db *bolt.DB, err error) {
	var file *os.File
	bopts := &bolt.Options{
		Timeout:  lockTimeout,
		ReadOnly: readOnly,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	}
	defer func() {
		if r := recover(); r != nil {
			// bbolt cannot close what it panicked on. Closing the file is
			// all we can do; its mapping keeps the lock until exit.
			if file != nil {
				_ = file.Close()
			}
			db, err = nil, corruptError(path, fmt.Errorf("%v", r))
		}
	}()
	db, err = bolt.Open(path, 0o600, bopts)
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, bolterrors.ErrTimeout):
		holder := "pid unknown"
		if pid := lockHolder(path); pid > 0 {
			holder = fmt.Sprintf("pid %d", pid)
		}
		return nil, fmt.Errorf("database %s is %w (%s, waited %s): "+
			"stop that process, or give this one a different data directory",
			path, ErrLocked, holder, lockTimeout)
	case errors.Is(err, bolterrors.ErrInvalid),
		errors.Is(err, bolterrors.ErrVersionMismatch),
		errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrInvalidMapping):
		return nil, corruptError(path, err)
	default:
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
}

func corruptError(path string, cause error) error {
	return fmt.Errorf("database %s is %w (%v). Stop moonrelay, move the file aside "+
		"(mv %s %s.broken) and start again: moonrelay begins with an empty store, and "+
		"the pending filament usage and queued notifications it held are lost. "+
		"Keep the moved file if you report the problem",
		path, ErrCorrupt, cause, path, path)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// Path returns the file the Store was opened from.
func (s *Store) Path() string { return s.path }

// Close waits for running transactions to finish, then closes the file and
// releases its lock. Calls after the first return the first call's result.
// Using the Store after Close returns errors wrapping [ErrClosed].
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close database %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// Update runs fn in a read-write transaction and commits it, fsync'd, when fn
// returns nil; if fn returns an error or panics, none of its writes are kept.
// Update returns fn's error unchanged, or the commit's error.
//
// # Notes
//
//   - Writers are serialised: keep fn short and never wait on the network in
//     it.
//   - Inside fn, use only tx: a [Store], [Namespace] or [Queue] not taken
//     from tx starts a transaction of its own, and a write would wait for
//     this one forever.
//   - The [Namespace] and [Queue] values from tx are valid only until fn
//     returns.
func (s *Store) Update(fn func(tx *Tx) error) error {
	return mapClosed(s.db.Update(func(btx *bolt.Tx) error {
		return fn(&Tx{s: s, tx: btx})
	}))
}

// View runs fn in a read-only transaction: fn sees one consistent snapshot,
// whatever writers do meanwhile. Writes through tx fail. The notes on
// [Store.Update] about nesting and lifetime apply here too.
func (s *Store) View(fn func(tx *Tx) error) error {
	return mapClosed(s.db.View(func(btx *bolt.Tx) error {
		return fn(&Tx{s: s, tx: btx})
	}))
}

// Namespace returns the namespace called name, which need not exist yet: the
// first write creates it, and reads of a missing namespace find nothing.
// Nested names separated by "/" ("guest/ntfy") live inside their parent, so a
// key in "guest" cannot share a name with the namespace "guest/ntfy".
// An invalid name (empty, or with an empty part as in "a//b") makes every
// method fail with [ErrInvalidName].
func (s *Store) Namespace(name string) *Namespace {
	return &Namespace{ref: newRef(s, nil, name)}
}

// Queue returns the queue called name; names follow the rules of
// [Store.Namespace]. A queue and a namespace with the same name share a
// bucket, so give each its own name.
func (s *Store) Queue(name string) *Queue {
	return &Queue{ref: newRef(s, nil, name)}
}

// Tx is a transaction passed to the function given to [Store.Update] or
// [Store.View]. It is valid only until that function returns and must not
// be used from other goroutines.
type Tx struct {
	s  *Store
	tx *bolt.Tx
}

// Namespace returns the namespace called name, bound to this transaction:
// its writes become durable together when [Store.Update] commits.
func (tx *Tx) Namespace(name string) *Namespace {
	return &Namespace{ref: newRef(tx.s, tx.tx, name)}
}

// Queue returns the queue called name, bound to this transaction.
func (tx *Tx) Queue(name string) *Queue {
	return &Queue{ref: newRef(tx.s, tx.tx, name)}
}

// ref locates a bucket and runs operations on it, either in a transaction of
// its own or in the one it is bound to.
type ref struct {
	s    *Store
	tx   *bolt.Tx // nil: each operation commits its own transaction
	name string
	path [][]byte
	err  error // the name is invalid
}

func newRef(s *Store, tx *bolt.Tx, name string) ref {
	r := ref{s: s, tx: tx, name: name}
	if name == "" {
		r.err = fmt.Errorf("%w: empty namespace name", ErrInvalidName)
		return r
	}
	for part := range strings.SplitSeq(name, "/") {
		if part == "" {
			r.err = fmt.Errorf("%w: namespace name %q has an empty part", ErrInvalidName, name)
			return r
		}
		if len(part) > bolt.MaxKeySize {
			r.err = fmt.Errorf("%w: namespace name %q has a part longer than %d bytes", ErrInvalidName, name, bolt.MaxKeySize)
			return r
		}
		r.path = append(r.path, []byte(part))
	}
	return r
}

// update runs fn on the bucket, creating it and its parents if needed.
func (r *ref) update(fn func(b *bolt.Bucket) error) error {
	if r.err != nil {
		return r.err
	}
	run := func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(r.path[0])
		for _, part := range r.path[1:] {
			if err != nil {
				break
			}
			b, err = b.CreateBucketIfNotExists(part)
		}
		if err != nil {
			return err
		}
		return fn(b)
	}
	if r.tx != nil {
		return run(r.tx)
	}
	return mapClosed(r.s.db.Update(run))
}

// view runs fn on the bucket, or on nil if it does not exist yet.
func (r *ref) view(fn func(b *bolt.Bucket) error) error {
	if r.err != nil {
		return r.err
	}
	run := func(tx *bolt.Tx) error {
		b := tx.Bucket(r.path[0])
		for _, part := range r.path[1:] {
			if b == nil {
				break
			}
			b = b.Bucket(part)
		}
		return fn(b)
	}
	if r.tx != nil {
		return run(r.tx)
	}
	return mapClosed(r.s.db.View(run))
}

// own returns the value to hand to bbolt. bbolt keeps a reference to it until
// commit, so inside a Tx it gets a copy the caller cannot change meanwhile;
// nil becomes an empty value.
func (r *ref) own(value []byte) []byte {
	if r.tx != nil || value == nil {
		return clone(value)
	}
	return value
}

func mapClosed(err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// clone copies b so that callers may keep and change it after the
// transaction that read it from the memory-mapped file has ended.
func clone(b []byte) []byte {
	return append([]byte{}, b...)
}
