// Command func is the entrypoint of the vauto OCI Function.
//
// It speaks the Fn FDK protocol through fnproject/fdk-go and, for each invocation, runs
//
//	vauto PROJECT SPEC ACTION -o json --log-dir /tmp/vauto/logs [flags] [--deadline D]
//
// ACTION comes from the invocation body and must be start, stop or status: `stop`,
// `"stop"` or `{"action": "stop"}`; an empty body means the function config VAUTO_ACTION.
// The body chooses the action only; every other word vauto gets comes from the function
// config (VAUTO_PROJECT, VAUTO_SPEC, VAUTO_<ACTION>_FLAGS), which only the operator sets.
//
// The answer is one JSON object: {"action", "project", "spec", "exit_code", "result",
// "stderr"}, where result is vauto's `-o json` document and stderr the end of its log.
// vauto's log also goes to the function log as it is written.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	fdk "github.com/fnproject/fdk-go"
)

const (
	maxBody    = 4 << 10 // an action word needs far less
	maxStdout  = 4 << 20 // vauto's -o json document
	stderrTail = 8 << 10 // what the answer repeats of vauto's log
	// Time kept back from the invocation deadline: vauto gets --deadline (remaining -
	// margin), and SIGTERM when the deadline itself comes.
	margin = 20 * time.Second
	// After SIGTERM vauto stops as on Ctrl-C; after this it is killed.
	termGrace = 10 * time.Second
)

// Default flags per action, used when VAUTO_<ACTION>_FLAGS is not set at all.
var defaultFlags = map[string]string{
	"start":  "--wait",
	"stop":   "--soft --soft-timeout 5m --wait",
	"status": "",
}

type answer struct {
	Action   string          `json:"action,omitempty"`
	Project  string          `json:"project,omitempty"`
	Spec     string          `json:"spec,omitempty"`
	ExitCode int             `json:"exit_code"`
	Result   json.RawMessage `json:"result,omitempty"`
	Stderr   string          `json:"stderr,omitempty"`
	Error    string          `json:"error,omitempty"`
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("vauto-fn: ")
	fdk.Handle(fdk.HandlerFunc(handle))
}

func handle(ctx context.Context, in io.Reader, out io.Writer) {
	fdk.SetHeader(out, "Content-Type", "application/json")
	a, status := run(ctx, in)
	if status != 200 {
		// Only an HTTP-trigger caller sees this status; OCI invoke and Resource Scheduler
		// calls get 200 from the FDK whatever the function writes, so read exit_code.
		fdk.WriteStatus(out, status)
	}
	if err := json.NewEncoder(out).Encode(a); err != nil {
		log.Printf("cannot write the answer: %v", err)
	}
}

func run(ctx context.Context, in io.Reader) (answer, int) {
	project, spec := os.Getenv("VAUTO_PROJECT"), os.Getenv("VAUTO_SPEC")
	a := answer{Project: project, Spec: spec, ExitCode: 2}
	if project == "" || spec == "" {
		a.Error = "set the function config VAUTO_PROJECT and VAUTO_SPEC (fn config function APP FN VAUTO_PROJECT ...)"
		log.Print(a.Error)
		return a, 500
	}
	action, err := readAction(in, os.Getenv("VAUTO_ACTION"))
	if err != nil {
		a.Error = err.Error()
		log.Print(a.Error)
		return a, 400
	}
	a.Action = action

	flags, ok := os.LookupEnv("VAUTO_" + strings.ToUpper(action) + "_FLAGS")
	if !ok {
		flags = defaultFlags[action]
	}
	logDir := envOr("VAUTO_LOG_DIR", "/tmp/vauto/logs")
	args := []string{project, spec, action, "-o", "json", "--log-dir", logDir}
	args = append(args, strings.Fields(flags)...)
	if d, ok := ctx.Deadline(); ok && !hasFlag(args, "--deadline") {
		left := time.Until(d) - margin
		if left < 10*time.Second {
			a.Error = fmt.Sprintf("only %s left before the invocation deadline: raise the function timeout", time.Until(d).Round(time.Second))
			log.Print(a.Error)
			return a, 500
		}
		args = append(args, "--deadline", fmt.Sprintf("%ds", int(left.Seconds())))
	}

	bin := envOr("VAUTO_BIN", "/function/vauto")
	start := time.Now()
	stdout, tail, code, err := execVauto(ctx, bin, args)
	a.ExitCode = code
	a.Stderr = tail
	if err != nil {
		a.Error = err.Error()
	}
	if res := bytes.TrimSpace(stdout); len(res) > 0 {
		if json.Valid(res) {
			a.Result = res
		} else {
			a.Result, _ = json.Marshal(string(res))
		}
	}
	log.Printf("%s %s %s: exit %d in %s", project, spec, action, code, time.Since(start).Round(100*time.Millisecond))
	if code != 0 || err != nil {
		return a, 502
	}
	return a, 200
}

// readAction takes the action from the body: a bare word, a JSON string or {"action": ...};
// an empty body means def. Only start, stop and status pass.
func readAction(in io.Reader, def string) (string, error) {
	body, err := io.ReadAll(io.LimitReader(in, maxBody+1))
	if err != nil {
		return "", fmt.Errorf("cannot read the invocation body: %v", err)
	}
	if len(body) > maxBody {
		return "", fmt.Errorf("the invocation body is over %d bytes: send only the action, e.g. {\"action\": \"stop\"}", maxBody)
	}
	s := strings.TrimSpace(string(body))
	action := s
	switch {
	case s == "":
		action = strings.TrimSpace(def)
		if action == "" {
			return "", errors.New("empty body and no VAUTO_ACTION in the function config: send start, stop or status")
		}
	case strings.HasPrefix(s, "{"):
		var v struct {
			Action *string `json:"action"`
		}
		if err := json.Unmarshal([]byte(s), &v); err != nil || v.Action == nil {
			return "", errors.New(`the body is JSON but not {"action": "start" | "stop" | "status"}`)
		}
		action = *v.Action
	case strings.HasPrefix(s, `"`):
		if err := json.Unmarshal([]byte(s), &action); err != nil {
			return "", errors.New("the body is not a JSON string")
		}
	}
	switch action {
	case "start", "stop", "status":
		return action, nil
	}
	return "", fmt.Errorf("action %q is not allowed here: start, stop or status", truncate(action, 40))
}

// execVauto runs bin with args: stdout captured, stderr copied to the function log and its
// end kept. When ctx ends, vauto (and anything it started) gets SIGTERM, as on Ctrl-C,
// then SIGKILL after termGrace.
func execVauto(ctx context.Context, bin string, args []string) (stdout []byte, tail string, code int, err error) {
	cmd := exec.Command(bin, args...)
	// Its own process group, so that the signals below reach anything vauto started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var outBuf limitedBuffer
	outBuf.max = maxStdout
	var errTail tailBuffer
	errTail.max = stderrTail
	cmd.Stdout = &outBuf
	cmd.Stderr = io.MultiWriter(os.Stderr, &errTail)
	if err := cmd.Start(); err != nil {
		return nil, "", 127, fmt.Errorf("cannot start %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(termGrace):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		}
	}()
	werr := cmd.Wait()
	close(done)
	code = cmd.ProcessState.ExitCode()
	if code < 0 { // killed by a signal
		code = 128 + int(cmd.ProcessState.Sys().(syscall.WaitStatus).Signal())
	}
	var exitErr *exec.ExitError
	if werr != nil && !errors.As(werr, &exitErr) {
		err = werr
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("the invocation deadline passed: vauto was stopped (%v)", ctx.Err())
	}
	return outBuf.Bytes(), errTail.String(), code, err
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// limitedBuffer keeps the first max bytes written and drops the rest.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
