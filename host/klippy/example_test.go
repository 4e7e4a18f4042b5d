package klippy_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/moonrelay/moonrelay/host/klippy"
	"github.com/moonrelay/moonrelay/host/klippy/sim"
)

// A G-code error comes back as *klippy.Error with Klippy's own message.
func ExampleClient_GcodeScript() {
	dir, _ := os.MkdirTemp("", "mr")
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "klippy.sock")
	printer := sim.New(sim.Options{})
	if err := printer.Start(context.Background(), sock); err != nil {
		fmt.Println(err)
		return
	}
	defer printer.Close()

	c := klippy.New(klippy.Options{SocketPath: sock})
	if err := c.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		fmt.Println(err)
		return
	}

	err := c.GcodeScript(ctx, "G1 X10 F3000")
	var kerr *klippy.Error
	fmt.Println(err)
	fmt.Println(errors.As(err, &kerr), kerr.Message)
	// Output:
	// klippy: gcode/script: Must home axis first: 10.000 0.000 0.000 [0.000]
	// true Must home axis first: 10.000 0.000 0.000 [0.000]
}

// Without Klipper, the state message says what to check.
func ExampleClient_State() {
	c := klippy.New(klippy.Options{SocketPath: "/home/pi/printer_data/comms/klippy.sock"})
	if err := c.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	time.Sleep(100 * time.Millisecond)
	state, msg := c.State()
	fmt.Println(state)
	fmt.Println(msg)
	// Output:
	// disconnected
	// klippy: cannot connect to /home/pi/printer_data/comms/klippy.sock: no such file — is Klipper running, and does [klippy] uds_address match its -a option?
}
