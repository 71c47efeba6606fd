// Package k8stest checks the Kubernetes Job that headroom load --k8s-job prints by decoding it
// strictly into the Kubernetes API's own types. It is a module of its own so that headroom does
// not depend on k8s.io/api; no cluster is needed.
package k8stest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// headroom builds the headroom command of the module two directories up.
func headroom(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "headroom")
	build := exec.Command("go", "build", "-o", bin, "./cmd/headroom")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/headroom: %v\n%s", err, out)
	}
	return bin
}

func TestJobDecodesStrictly(t *testing.T) {
	bin := headroom(t)
	cmd := exec.Command(bin, "load", "http://svc.default:8080/api/posts", "--rate", "8000", "--duration", "1m",
		"-H", "Authorization: Bearer $(TOKEN)", "--k8s-job", "4", "--k8s-image", "registry.example.com/headroom:v1",
		"--k8s-cpu", "1500m", "--k8s-memory", "512Mi", "--start-at", "2026-12-07T10:00:00Z")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("headroom load --k8s-job: %v: %s", err, stderr.String())
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict(out, &job); err != nil {
		t.Fatalf("the manifest does not decode strictly into a batch/v1 Job: %v\n%s", err, out)
	}
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || job.Name != "headroom-load" {
		t.Errorf("apiVersion %q kind %q name %q, want batch/v1 Job headroom-load", job.APIVersion, job.Kind, job.Name)
	}
	s := job.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion ||
		s.Completions == nil || *s.Completions != 4 || s.Parallelism == nil || *s.Parallelism != 4 {
		t.Errorf("completion mode %v, completions %v, parallelism %v: want Indexed, 4 and 4", s.CompletionMode, s.Completions, s.Parallelism)
	}
	if s.BackoffLimit == nil || *s.BackoffLimit != 0 || s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("backoff limit %v, restart policy %q: want 0 and Never", s.BackoffLimit, s.Template.Spec.RestartPolicy)
	}
	cs := s.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	c := cs[0]
	if c.Image != "registry.example.com/headroom:v1" || !slices.Equal(c.Command, []string{"headroom"}) {
		t.Errorf("image %q command %q", c.Image, c.Command)
	}
	for _, want := range []string{"load", "http://svc.default:8080/api/posts", "--rate=8000", "--duration=1m0s",
		"--header=Authorization: Bearer $$(TOKEN)", "--shard=$(HEADROOM_SHARD)/4", "--start-at=2026-12-07T10:00:00Z",
		"--out=-", "--out-markers", "--quiet"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %q lack %q", c.Args, want)
		}
	}
	if len(c.Env) != 1 || c.Env[0].Name != "HEADROOM_SHARD" || c.Env[0].ValueFrom == nil || c.Env[0].ValueFrom.FieldRef == nil ||
		c.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Errorf("env %+v, want HEADROOM_SHARD from the completion index annotation", c.Env)
	}
	r := c.Resources
	if r.Requests.Cpu().MilliValue() != 1500 || r.Requests.Memory().Value() != 512<<20 || r.Limits.Memory().Value() != 512<<20 {
		t.Errorf("resources %+v, want 1500m CPU and 512Mi memory requested, 512Mi memory limit", r)
	}
	if a := s.Template.Spec.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Errorf("affinity %+v, want a preferred pod anti-affinity (one pod per node)", a)
	}
}

// TestMain keeps the test's own go build from inheriting a GOFLAGS=-modfile meant for another module.
func TestMain(m *testing.M) {
	os.Unsetenv("GOFLAGS")
	os.Exit(m.Run())
}
