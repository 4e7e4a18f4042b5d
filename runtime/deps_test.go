package runtime

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps runtime free of host/ imports and guests on
// guests/sdk plus the standard library, as tailscale's deptest does.
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skips the go list dependency check")
	}
	tests := []struct {
		pkg     string
		env     []string
		allowed func(dep string) bool
	}{
		{"github.com/moonrelay/moonrelay/runtime", nil, func(dep string) bool {
			return !strings.HasPrefix(dep, "github.com/moonrelay/moonrelay/host") && !strings.HasPrefix(dep, "github.com/moonrelay/moonrelay/cmd")
		}},
		{"github.com/moonrelay/moonrelay/guests/examples/echo", []string{"GOOS=wasip1", "GOARCH=wasm"}, func(dep string) bool {
			return !strings.Contains(dep, ".") || strings.HasPrefix(dep, "github.com/moonrelay/moonrelay/guests/sdk") ||
				dep == "github.com/moonrelay/moonrelay/guests/examples/echo" || strings.HasPrefix(dep, "vendor/golang.org/")
		}},
	}
	for _, tc := range tests {
		cmd := exec.Command("go", "list", "-deps", tc.pkg)
		cmd.Env = append(cmd.Environ(), tc.env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", tc.pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if !tc.allowed(dep) {
				t.Errorf("%s depends on %s", tc.pkg, dep)
			}
		}
	}
}
