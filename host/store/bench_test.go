package store_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/host/store"
)

// BenchmarkPut measures one durable Put, fsync included, and reports the
// median and 99th-percentile latency next to the mean.
func BenchmarkPut(b *testing.B) {
	s := openTemp(b)
	n := s.Namespace("usage/pending")
	value := bytes.Repeat([]byte("u"), 64)
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		start := time.Now()
		if err := n.Put(fmt.Sprintf("spool-%d", i%32), value); err != nil {
			b.Fatal(err)
		}
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(start))
		}
		i++
	}
	reportPercentiles(b, lat)
}

// BenchmarkPutParallel shows that writers are serialised: each Put still
// waits for its own fsync'd commit.
func BenchmarkPutParallel(b *testing.B) {
	s := openTemp(b)
	n := s.Namespace("n")
	value := bytes.Repeat([]byte("u"), 64)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := n.Put(fmt.Sprintf("k-%d", i%32), value); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkAppend measures appending a notification-sized item to a queue.
func BenchmarkAppend(b *testing.B) {
	s := openTemp(b)
	q := s.Queue("outbox")
	value := bytes.Repeat([]byte("n"), 512)
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if _, err := q.Append(value); err != nil {
			b.Fatal(err)
		}
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(start))
		}
	}
	reportPercentiles(b, lat)
}

// BenchmarkGet measures a read from a namespace of 1000 keys.
func BenchmarkGet(b *testing.B) {
	s := openTemp(b)
	n := s.Namespace("guest/ntfy")
	keys := make([]string, 1000)
	err := s.Update(func(tx *store.Tx) error {
		for i := range keys {
			keys[i] = fmt.Sprintf("key-%04d", i)
			if err := tx.Namespace("guest/ntfy").Put(keys[i], bytes.Repeat([]byte("v"), 64)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok, err := n.Get(keys[i%len(keys)]); err != nil || !ok {
			b.Fatal(ok, err)
		}
		i++
	}
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
