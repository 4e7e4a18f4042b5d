package app

import (
	"testing"
	"time"
)

func TestIdleUnload(t *testing.T) {
	d := func(v time.Duration) *time.Duration { return &v }
	for _, tc := range []struct {
		name string
		in   *time.Duration
		want time.Duration
	}{
		{"unset: runtime default", nil, 0},
		{"0: never", d(0), -1},
		{"negative: never", d(-time.Second), -1},
		{"set", d(3 * time.Minute), 3 * time.Minute},
	} {
		if got := idleUnload(tc.in); got != tc.want {
			t.Errorf("%s: idleUnload = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestKeepCodeAnonymous(t *testing.T) {
	b := func(v bool) *bool { return &v }
	for _, tc := range []struct {
		name string
		in   *bool
		want bool
	}{
		{"unset: code files", nil, false},
		{"true: code files", b(true), false},
		{"false: anonymous", b(false), true},
	} {
		if got := keepCodeAnonymous(tc.in); got != tc.want {
			t.Errorf("%s: keepCodeAnonymous = %v, want %v", tc.name, got, tc.want)
		}
	}
}
