package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/host/store"
)

func TestNamespace_invalidNames(t *testing.T) {
	s := openTemp(t)
	long := strings.Repeat("k", 32769)
	tests := []struct {
		name, namespace, key string
	}{
		{"empty namespace", "", "k"},
		{"only a slash", "/", "k"},
		{"leading slash", "/guest", "k"},
		{"trailing slash", "guest/", "k"},
		{"empty part", "guest//ntfy", "k"},
		{"part too long", "guest/" + long, "k"},
		{"empty key", "n", ""},
		{"key too long", "n", long},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := s.Namespace(tc.namespace)
			var v any
			calls := map[string]error{
				"Put":     n.Put(tc.key, []byte("v")),
				"Delete":  n.Delete(tc.key),
				"PutJSON": n.PutJSON(tc.key, 1),
			}
			_, _, calls["Get"] = n.Get(tc.key)
			_, calls["GetJSON"] = n.GetJSON(tc.key, &v)
			for method, err := range calls {
				if !errors.Is(err, store.ErrInvalidName) {
					t.Errorf("%s error = %v, want ErrInvalidName", method, err)
				}
			}
		})
	}

	t.Run("queue with empty namespace", func(t *testing.T) {
		if _, err := s.Queue("").Append(nil); !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("Append error = %v, want ErrInvalidName", err)
		}
	})
	t.Run("longest key", func(t *testing.T) {
		if err := s.Namespace("n").Put(long[1:], []byte("v")); err != nil {
			t.Errorf("Put with a 32768-byte key: %v", err)
		}
	})
}

func TestNamespace_GetPutDelete(t *testing.T) {
	s := openTemp(t)
	n := s.Namespace("spoolman")
	tests := []struct {
		name   string
		do     func() error
		key    string
		want   string
		wantOK bool
	}{
		{"missing namespace", func() error { return nil }, "active", "", false},
		{"put", func() error { return n.Put("active", []byte("7")) }, "active", "7", true},
		{"overwrite", func() error { return n.Put("active", []byte("12")) }, "active", "12", true},
		{"nil value is empty", func() error { return n.Put("empty", nil) }, "empty", "", true},
		{"missing key", func() error { return nil }, "other", "", false},
		{"delete", func() error { return n.Delete("active") }, "active", "", false},
		{"delete missing key", func() error { return n.Delete("active") }, "active", "", false},
		{"delete in missing namespace", func() error { return s.Namespace("none").Delete("k") }, "active", "", false},
		{"binary key", func() error { return n.Put("\x00\xff", []byte("b")) }, "\x00\xff", "b", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); err != nil {
				t.Fatal(err)
			}
			got, ok, err := n.Get(tc.key)
			if err != nil || ok != tc.wantOK || string(got) != tc.want {
				t.Errorf("Get(%q) = %q, %v, %v; want %q, %v, nil", tc.key, got, ok, err, tc.want, tc.wantOK)
			}
			if ok && got == nil {
				t.Errorf("Get(%q) found a nil value, want non-nil", tc.key)
			}
		})
	}
}

func TestNamespace_valuesAreCopies(t *testing.T) {
	s := openTemp(t)
	n := s.Namespace("n")
	if err := n.Put("k", []byte("value")); err != nil {
		t.Fatal(err)
	}
	got, _, _ := n.Get("k")
	got[0] = 'X' // would fault if it were the read-only mapped page
	if err := n.ForEach(func(_ string, v []byte) error { v[0] = 'Y'; return nil }); err != nil {
		t.Fatal(err)
	}
	if again, _, _ := n.Get("k"); string(again) != "value" {
		t.Errorf("stored value = %q after changing returned copies, want \"value\"", again)
	}
}

func TestNamespace_ForEach(t *testing.T) {
	s := openTemp(t)
	n := s.Namespace("guest")
	for _, k := range []string{"b", "a", "c", "aa"} {
		if err := n.Put(k, []byte("v-"+k)); err != nil {
			t.Fatal(err)
		}
	}
	// A nested namespace sits beside the keys but is not one of them.
	if err := s.Namespace("guest/ntfy").Put("token", []byte("t")); err != nil {
		t.Fatal(err)
	}

	t.Run("key order, nested namespaces skipped", func(t *testing.T) {
		var keys []string
		err := n.ForEach(func(k string, v []byte) error {
			if string(v) != "v-"+k {
				t.Errorf("value of %q = %q, want %q", k, v, "v-"+k)
			}
			keys = append(keys, k)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"a", "aa", "b", "c"}; !slices.Equal(keys, want) {
			t.Errorf("keys = %v, want %v", keys, want)
		}
	})

	t.Run("error stops and is returned unchanged", func(t *testing.T) {
		errStop := errors.New("stop")
		calls := 0
		err := n.ForEach(func(string, []byte) error { calls++; return errStop })
		if err != errStop || calls != 1 {
			t.Errorf("ForEach = %v after %d calls, want errStop after 1", err, calls)
		}
	})

	t.Run("missing namespace", func(t *testing.T) {
		err := s.Namespace("none/at/all").ForEach(func(string, []byte) error {
			t.Error("fn called for a missing namespace")
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})

	t.Run("fn may write", func(t *testing.T) {
		tmp := s.Namespace("tmp")
		for _, k := range []string{"x", "y", "z"} {
			if err := tmp.Put(k, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := tmp.ForEach(func(k string, _ []byte) error { return tmp.Delete(k) }); err != nil {
			t.Fatal(err)
		}
		err := s.Update(func(tx *store.Tx) error {
			src, dst := tx.Namespace("guest"), tx.Namespace("tmp")
			return src.ForEach(func(k string, v []byte) error { return dst.Put(k, v) })
		})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		_ = tmp.ForEach(func(k string, _ []byte) error { keys = append(keys, k); return nil })
		if want := []string{"a", "aa", "b", "c"}; !slices.Equal(keys, want) {
			t.Errorf("keys after delete and copy = %v, want %v", keys, want)
		}
	})
}

func TestNamespace_nested(t *testing.T) {
	s := openTemp(t)
	parent, child := s.Namespace("guest"), s.Namespace("guest/ntfy")
	if err := child.Put("token", []byte("secret")); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := parent.Get("ntfy"); ok || err != nil {
		t.Errorf("parent Get(child name) = %v, %v; want not found", ok, err)
	}
	if err := parent.Put("ntfy", []byte("v")); err == nil {
		t.Error("parent Put(child name) succeeded, want an error")
	}
	if err := parent.Delete("ntfy"); err != nil {
		t.Errorf("parent Delete(child name) = %v, want nil", err)
	}
	if v, ok, _ := child.Get("token"); !ok || string(v) != "secret" {
		t.Errorf("child token = %q, %v after parent calls; want \"secret\", true", v, ok)
	}
	if _, ok, _ := s.Namespace("ntfy").Get("token"); ok {
		t.Error("top-level namespace ntfy sees guest/ntfy's key")
	}
}

func TestNamespace_JSON(t *testing.T) {
	s := openTemp(t)
	n := s.Namespace("usage")
	type usage struct {
		SpoolID int     `json:"spool_id"`
		Length  float64 `json:"length_mm"`
	}

	if err := n.PutJSON("pending", usage{SpoolID: 7, Length: 12.5}); err != nil {
		t.Fatal(err)
	}
	if raw, _, _ := n.Get("pending"); string(raw) != `{"spool_id":7,"length_mm":12.5}` {
		t.Errorf("stored %s", raw)
	}

	tests := []struct {
		name    string
		key     string
		want    usage
		wantOK  bool
		wantErr bool
	}{
		{"found", "pending", usage{7, 12.5}, true, false},
		{"missing leaves v alone", "absent", usage{1, 1}, false, false},
		{"not JSON", "garbage", usage{1, 1}, true, true},
	}
	if err := n.Put("garbage", []byte("{")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := usage{1, 1}
			ok, err := n.GetJSON(tc.key, &got)
			if ok != tc.wantOK || (err != nil) != tc.wantErr {
				t.Fatalf("GetJSON = %v, %v; want %v, error %v", ok, err, tc.wantOK, tc.wantErr)
			}
			if !tc.wantErr && got != tc.want {
				t.Errorf("value = %+v, want %+v", got, tc.want)
			}
		})
	}

	t.Run("unencodable", func(t *testing.T) {
		if err := n.PutJSON("k", make(chan int)); err == nil {
			t.Error("PutJSON(chan) succeeded")
		}
	})
}
