package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// startupMedian measures a packaged function's start-up under the Lambda
// Runtime Interface Emulator: process start to ready for the first event.
// The emulator starts the bootstrap on the first invocation, and its REPORT
// line's "Init Duration" does not wait for the runtime, so each run starts a
// fresh emulator, times the first invocation of an event the function
// ignores before any I/O (another account's), and subtracts the same
// invocation on the warm process.
func startupMedian(ctx context.Context, rie, bootstrap string, runs int) (time.Duration, error) {
	if _, err := os.Stat(rie); err != nil {
		return 0, fmt.Errorf("%s missing: run make deps", rie)
	}
	cfg, err := filepath.Abs(configPath(""))
	if err != nil {
		return 0, err
	}
	ev := []byte(`{"version":"0","id":"bench","detail-type":"Scheduled Event","source":"aws.events","account":"999988887777","time":"2026-11-24T09:00:00Z","region":"eu-west-1","resources":[],"detail":{}}`)
	var ds []time.Duration
	for range runs {
		d, err := startupOnce(ctx, rie, bootstrap, cfg, ev)
		if err != nil {
			return 0, err
		}
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}

// freePorts returns two distinct free loopback ports, held open together
// while chosen so that the kernel cannot hand out one twice.
func freePorts() (int, int, error) {
	a, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	defer a.Close()
	b, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	defer b.Close()
	return a.Addr().(*net.TCPAddr).Port, b.Addr().(*net.TCPAddr).Port, nil
}

func startupOnce(ctx context.Context, rie, bootstrap, cfg string, ev []byte) (time.Duration, error) {
	api, port, err := freePorts()
	if err != nil {
		return 0, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.CommandContext(ctx, rie, "--log-level", "error", "--runtime-api-address", "127.0.0.1:"+strconv.Itoa(api),
		"--runtime-interface-emulator-address", addr, bootstrap)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "KAIZEN_CONFIG=" + cfg, "KAIZEN_TABLE=kaizen-bench",
		"AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_ENDPOINT_URL=http://127.0.0.1:9", "AWS_LAMBDA_FUNCTION_NAME=kaizen-bench",
	}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start the emulator: %w", err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the emulator did not listen on %s", addr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	url := "http://" + addr + "/2015-03-31/functions/function/invocations"
	invoke := func() (time.Duration, error) {
		start := time.Now()
		resp, err := http.Post(url, "application/json", bytes.NewReader(ev))
		if err != nil {
			return 0, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "null" {
			return 0, fmt.Errorf("%s answered %s", filepath.Base(filepath.Dir(bootstrap)), body)
		}
		return time.Since(start), nil
	}
	cold, err := invoke()
	if err != nil {
		return 0, err
	}
	warm := time.Duration(1 << 62)
	for range 3 {
		d, err := invoke()
		if err != nil {
			return 0, err
		}
		warm = min(warm, d)
	}
	return max(cold-warm, 0), nil
}
