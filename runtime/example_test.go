package runtime_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/runtime/internal/wasmbuild"
)

// Load a folder of guests and deliver one message through the echo
// transport.
func ExampleEngine_Send() {
	ctx := context.Background()
	wasm, err := wasmbuild.Build("guests/examples/echo")
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "guests")
	defer os.RemoveAll(dir)
	_ = os.Symlink(wasm, filepath.Join(dir, "echo.wasm"))
	cache, _ := wasmbuild.CacheDir()

	e, err := runtime.New(ctx, runtime.Options{CacheDir: filepath.Join(cache, "wazero")})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close(ctx)
	if err := e.LoadDir(ctx, dir, filepath.Join(dir, "no-such-plugins-dir")); err != nil {
		log.Fatal(err)
	}
	for _, g := range e.Guests() {
		fmt.Println(g.Name, g.Version, g.Kind, g.Schemes, filepath.Base(g.File))
	}

	g, _ := e.ForURL("echo://example.com/")
	res, err := e.Send(ctx, g.Name, sdk.SendRequest{URL: "echo://example.com/", Title: "Done", Body: "benchy.gcode"},
		runtime.Call{Scope: "notifier.phone"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Status, res.Info)
	// Output:
	// echo 1.0.0 transport [echo] echo.wasm
	// sent {"title":"Done","body":"benchy.gcode"}
}
