package store_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/moonrelay/moonrelay/host/store"
)

func Example() {
	dir, err := os.MkdirTemp("", "moonrelay")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := store.Open(filepath.Join(dir, "moonrelay.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	spoolman := s.Namespace("spoolman")
	if err := spoolman.PutJSON("active_spool", 7); err != nil { // on disk once it returns
		log.Fatal(err)
	}
	var spool int
	found, err := spoolman.GetJSON("active_spool", &spool)
	fmt.Println(spool, found, err)
	// Output: 7 true <nil>
}

// The outbox: append, deliver in order, delete what was delivered.
func ExampleQueue() {
	dir, err := os.MkdirTemp("", "moonrelay")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := store.Open(filepath.Join(dir, "moonrelay.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	outbox := s.Queue("outbox")
	for _, msg := range []string{"print started", "print complete"} {
		if _, err := outbox.Append([]byte(msg)); err != nil {
			log.Fatal(err)
		}
	}
	err = outbox.ForEach(func(id uint64, msg []byte) error {
		fmt.Printf("deliver %d: %s\n", id, msg)
		return outbox.Delete(id)
	})
	fmt.Println(err)
	// Output:
	// deliver 1: print started
	// deliver 2: print complete
	// <nil>
}

// Moving filament usage from pending to sent is one atomic commit: after a
// crash the usage is in exactly one of the two places.
func ExampleStore_Update() {
	dir, err := os.MkdirTemp("", "moonrelay")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := store.Open(filepath.Join(dir, "moonrelay.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	if err := s.Namespace("usage/pending").Put("spool-7", []byte("1250.5")); err != nil {
		log.Fatal(err)
	}
	err = s.Update(func(tx *store.Tx) error {
		pending, sent := tx.Namespace("usage/pending"), tx.Namespace("usage/sent")
		mm, ok, err := pending.Get("spool-7")
		if err != nil || !ok {
			return err
		}
		if err := sent.Put("spool-7", mm); err != nil {
			return err
		}
		return pending.Delete("spool-7")
	})
	_, inPending, _ := s.Namespace("usage/pending").Get("spool-7")
	mm, inSent, _ := s.Namespace("usage/sent").Get("spool-7")
	fmt.Println(err, inPending, inSent, string(mm))
	// Output: <nil> false true 1250.5
}
