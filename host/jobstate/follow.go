package jobstate

import (
	"context"
	"fmt"
	"strings"

	"github.com/moonrelay/moonrelay/host/klippy"
)

// Follow feeds t from c until ctx ends or c closes: every print_stats
// Snapshot becomes Init, every print_stats change becomes Update, and
// leaving the ready state becomes KlippyLost ("Klippy disconnected",
// "Klippy shut down" with Klippy's message, or "Klippy reported an error").
// Because state changes and status travel on one klippy.Subscription, they
// reach t in the order Klippy sent them. It returns ctx.Err(), or
// klippy.ErrClosed when the client closes.
func Follow(ctx context.Context, c *klippy.Client, t *Tracker) error {
	sub := c.Subscribe(map[string][]string{"print_stats": nil})
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case u, ok := <-sub.Updates():
			if !ok {
				return fmt.Errorf("jobstate: follow Klippy: %w", klippy.ErrClosed)
			}
			switch u.Kind {
			case klippy.StateChange:
				switch u.State {
				case klippy.StateDisconnected:
					t.KlippyLost("Klippy disconnected", "")
				case klippy.StateShutdown:
					t.KlippyLost("Klippy shut down", firstLine(u.Message))
				case klippy.StateError:
					t.KlippyLost("Klippy reported an error", firstLine(u.Message))
				}
			case klippy.Snapshot:
				t.Init(u.Status["print_stats"])
			case klippy.Changes:
				if ps, ok := u.Status["print_stats"]; ok {
					t.Update(ps)
				}
			}
		}
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
