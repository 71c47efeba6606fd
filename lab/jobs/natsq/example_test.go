package natsq_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/natsq"
)

// An embedded JetStream server, one job published, received and acknowledged.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir, err := os.MkdirTemp("", "natsq-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	e, err := natsq.New(ctx, natsq.Config{StoreDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	err = e.Publish(ctx, jobs.Message{ID: "invite-42", Queue: "email", Payload: []byte(`{"to":"ada@example.com"}`), EnqueuedAt: time.Now()})
	if err != nil {
		log.Fatal(err)
	}
	sub, err := e.Subscribe(ctx, "email", jobs.SubscribeOptions{AckWait: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	d, err := sub.Next(ctx)
	if err != nil {
		log.Fatal(err)
	}
	m := d.Message()
	fmt.Printf("%s attempt %d: %s\n", m.ID, m.Attempt, m.Payload)
	if err := d.Ack(ctx); err != nil {
		log.Fatal(err)
	}
	// Output: invite-42 attempt 1: {"to":"ada@example.com"}
}
