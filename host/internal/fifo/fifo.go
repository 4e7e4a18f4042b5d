// Package fifo is an unbounded first-in first-out queue in front of a
// channel: producers never block, the consumer reads the channel in order.
package fifo

import "sync"

// Queue delivers values to a channel in order without ever blocking the
// producer: values wait in a slice until the consumer takes them. One
// goroutine per queue moves values from the slice to the channel.
type Queue[T any] struct {
	mu     sync.Mutex
	items  []T
	closed bool
	wake   chan struct{}
	out    chan T
	done   chan struct{}
	exited chan struct{}
}

// New starts a queue; Close stops its goroutine.
func New[T any]() *Queue[T] {
	q := &Queue[T]{
		wake:   make(chan struct{}, 1),
		out:    make(chan T),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	go q.run()
	return q
}

// Out is the channel values are delivered on; it is closed by Close.
func (q *Queue[T]) Out() <-chan T { return q.out }

// Push queues v and reports the backlog length; it returns -1 once closed.
func (q *Queue[T]) Push(v T) int {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return -1
	}
	q.items = append(q.items, v)
	n := len(q.items)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return n
}

// Close stops delivery, drops what is queued and closes the channel.
// It waits for the delivery goroutine and is safe to call more than once.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		q.items = nil
		close(q.done)
	}
	q.mu.Unlock()
	<-q.exited
}

func (q *Queue[T]) run() {
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
		v := q.items[0]
		var zero T
		q.items[0] = zero
		q.items = q.items[1:]
		if len(q.items) == 0 {
			q.items = nil
		}
		q.mu.Unlock()
		select {
		case q.out <- v:
		case <-q.done:
			return
		}
	}
}
