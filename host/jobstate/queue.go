package jobstate

import "sync"

// queue delivers events to a channel in order without blocking the
// producer; one goroutine per queue moves them from a slice to the channel.
type queue struct {
	mu     sync.Mutex
	items  []Event
	closed bool
	wake   chan struct{}
	out    chan Event
	done   chan struct{}
	exited chan struct{}
}

func newQueue() *queue {
	q := &queue{wake: make(chan struct{}, 1), out: make(chan Event), done: make(chan struct{}), exited: make(chan struct{})}
	go q.run()
	return q
}

// push queues ev and returns the backlog, or -1 once closed.
func (q *queue) push(ev Event) int {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return -1
	}
	q.items = append(q.items, ev)
	n := len(q.items)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return n
}

func (q *queue) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		q.items = nil
		close(q.done)
	}
	q.mu.Unlock()
	<-q.exited
}

func (q *queue) run() {
	defer close(q.exited)
	defer close(q.out)
	for {
		q.mu.Lock()
		if len(q.items) == 0 {
			q.mu.Unlock()
			select {
			case <-q.wake:
				continue
			case <-q.done:
				return
			}
		}
		ev := q.items[0]
		q.items[0] = Event{}
		q.items = q.items[1:]
		q.mu.Unlock()
		select {
		case q.out <- ev:
		case <-q.done:
			return
		}
	}
}
