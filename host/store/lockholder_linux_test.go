package store

import "testing"

func TestFindLockHolder(t *testing.T) {
	const locks = `1: POSIX  ADVISORY  WRITE 900 fd:01:5243063 0 EOF
2: FLOCK  ADVISORY  WRITE 1234 fd:01:5243063 0 EOF
2: -> FLOCK  ADVISORY  WRITE 4321 fd:01:5243063 0 EOF
3: FLOCK  ADVISORY  WRITE 555 08:02:77 0 EOF
`
	tests := []struct {
		name         string
		major, minor uint32
		ino          uint64
		want         int
	}{
		{"holder, not the POSIX lock or the waiter", 0xfd, 1, 5243063, 1234},
		{"two-digit device", 8, 2, 77, 555},
		{"other inode", 0xfd, 1, 1, 0},
		{"other device", 0xfd, 2, 5243063, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := findLockHolder([]byte(locks), tc.major, tc.minor, tc.ino); got != tc.want {
				t.Errorf("findLockHolder = %d, want %d", got, tc.want)
			}
		})
	}
}
