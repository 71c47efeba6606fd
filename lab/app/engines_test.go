package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/tasks"
)

// cleanupQueues removes what a lab with queue prefix left on a shared broker.
func cleanupQueues(t *testing.T, url, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch url[:4] {
	case "redi":
		opts, err := redis.ParseURL(url)
		if err != nil {
			return
		}
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		iter := rdb.Scan(ctx, 0, "{"+prefix+":*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	case "nats":
		nc, err := nats.Connect(url)
		if err != nil {
			return
		}
		defer nc.Close()
		js, err := nc.JetStream()
		if err != nil {
			return
		}
		for _, s := range []string{"_JOBS", "_DEAD"} {
			_ = js.DeleteStream(strings.ToUpper(prefix) + s)
		}
	case "amqp":
		conn, err := amqp.Dial(url)
		if err != nil {
			return
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			return
		}
		for _, q := range tasks.Queues {
			_, _ = ch.QueueDelete(prefix+"."+q, false, false, false)
			_, _ = ch.QueueDelete(prefix+"."+q+"~dead", false, false, false)
		}
	}
	t.Logf("removed the queues of prefix %s from %s", prefix, url[:4])
}

// TestThreeCasesOnEveryEngine runs the invite email, the video pipeline and the chunked account
// deletion through each external broker whose variable is set (the embedded JetStream runs in
// the other tests).
func TestThreeCasesOnEveryEngine(t *testing.T) {
	t.Parallel()
	for _, env := range []string{"HEADROOM_TEST_NATS", "HEADROOM_TEST_REDIS", "HEADROOM_TEST_AMQP"} {
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			url := os.Getenv(env)
			if url == "" {
				t.Skipf("%s is not set: skipping the lab on that broker", env)
			}
			b := make([]byte, 4)
			_, _ = rand.Read(b)
			prefix := "hrlab-" + hex.EncodeToString(b)
			t.Cleanup(func() { cleanupQueues(t, url, prefix) })
			ms := mailServer(t, "0s")
			a, _ := startRecorded(t, app.Config{Queue: url, QueuePrefix: prefix, SMTPAddr: ms.Addr(), Jobs: app.JobsConfig{DeleteChunk: 4}})
			base := a.Info().URL
			var v lab.Video
			var d lab.Deletion
			if code := send(t, "POST", base+"/api/invites", `{"inviter_id":1,"email":"f@example.com"}`, nil); code != http.StatusAccepted {
				t.Fatalf("invite = %d", code)
			}
			if code := send(t, "POST", base+"/api/videos", `{"owner_id":2,"title":"t","size_bytes":50000}`, &v); code != http.StatusAccepted {
				t.Fatalf("video = %d", code)
			}
			if code := send(t, "DELETE", base+"/api/account?user_id=3", "", &d); code != http.StatusAccepted {
				t.Fatalf("delete = %d", code)
			}
			eventually(t, "email, video and deletion done", func() error {
				send(t, "GET", fmt.Sprintf("%s/api/videos/%d", base, v.ID), "", &v)
				send(t, "GET", fmt.Sprintf("%s/api/account/deletions/%d", base, d.ID), "", &d)
				if ms.Delivered() != 1 || v.Status != lab.VideoReady || d.Status != lab.DeletionDone {
					return fmt.Errorf("%d emails, video %s, deletion %s", ms.Delivered(), v.Status, d.Status)
				}
				return nil
			})
		})
	}
}
