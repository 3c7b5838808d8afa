package framework

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"
)

// startEtcd runs the single etcd member every API server of the bed shares.
func (e *Env) startEtcd(ctx context.Context) error {
	var err error
	for range 3 {
		var client, peer int
		if client, err = freePort(); err != nil {
			return err
		}
		if peer, err = freePort(); err != nil {
			return err
		}
		clientURL := "http://127.0.0.1:" + strconv.Itoa(client)
		peerURL := "http://127.0.0.1:" + strconv.Itoa(peer)
		e.etcdURL = clientURL
		e.etcdPorts = []int{client, peer}
		e.etcd = &process{
			name:    "etcd",
			path:    e.bins.Etcd,
			logPath: filepath.Join(e.Dir, "etcd.log"),
			args: []string{
				"--name=vanlink-test-bed",
				"--data-dir=" + filepath.Join(e.Dir, "etcd-data"),
				"--listen-client-urls=" + clientURL,
				"--advertise-client-urls=" + clientURL,
				"--listen-peer-urls=" + peerURL,
				"--initial-advertise-peer-urls=" + peerURL,
				"--initial-cluster=vanlink-test-bed=" + peerURL,
				"--unsafe-no-fsync",
				"--quota-backend-bytes=4294967296",
				"--log-level=warn",
			},
		}
		if err = e.etcd.start(); err != nil {
			return err
		}
		err = e.etcd.waitReady(ctx, func(ctx context.Context) error { return etcdHealthy(ctx, clientURL) })
		if err == nil {
			return nil
		}
		e.etcd.stop(5 * time.Second)
		if !isAddrInUse(err) {
			return err
		}
	}
	return err
}

func etcdHealthy(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("etcd /health: %s", resp.Status)
	}
	return nil
}
