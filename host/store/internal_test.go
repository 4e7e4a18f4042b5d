package store

import (
	"path/filepath"
	"testing"
)

func TestOpen_neverNoSync(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "moonrelay.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.db.NoSync || s.db.NoGrowSync {
		t.Errorf("NoSync = %v, NoGrowSync = %v; want both false", s.db.NoSync, s.db.NoGrowSync)
	}
}
