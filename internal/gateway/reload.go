package gateway

import (
	"context"
	"strconv"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
)

// Reload outcomes (the metric's label and the audit event's outcome).
const (
	reloadSuccess = "success"
	reloadFailure = "failure"
)

// Reload replaces the route table with cfg's after the same checks serve
// and `config check` run (Check); a configuration that fails them is
// refused and the old table keeps serving. Either way the attempt is
// logged, counted in rampart_gateway_config_reloads_total{outcome} and
// audited (gateway.reload). trigger says what asked ("sighup", "file").
func (g *Gateway) Reload(ctx context.Context, cfg *config.Config, trigger string) error {
	err := Check(cfg)
	if err == nil {
		err = g.Load(cfg)
	}
	g.recordReload(ctx, trigger, err)
	return err
}

// RefuseReload records a reload that failed before a configuration could
// be handed over (the file does not load): counted, audited and logged
// like a refused table.
func (g *Gateway) RefuseReload(ctx context.Context, trigger string, err error) {
	g.recordReload(ctx, trigger, err)
}

func (g *Gateway) recordReload(ctx context.Context, trigger string, err error) {
	ev := audit.Event{Actor: "system", Action: audit.ActionGatewayReload, Target: "gateway",
		Outcome: audit.OutcomeSuccess, Details: map[string]string{"trigger": trigger}}
	if err != nil {
		g.m.reloads.WithLabelValues(reloadFailure).Inc()
		ev.Outcome, ev.Reason = audit.OutcomeFailure, "invalid_config"
		g.d.Logger.ErrorContext(ctx, "gateway: new configuration refused; the previous routes keep serving", "trigger", trigger, "err", err)
	} else {
		g.m.reloads.WithLabelValues(reloadSuccess).Inc()
		ev.Details["routes"] = strconv.Itoa(len(g.st.Load().routes))
		g.d.Logger.InfoContext(ctx, "gateway: routes reloaded", "trigger", trigger, "routes", ev.Details["routes"])
	}
	if aerr := g.d.Audit.Record(context.WithoutCancel(ctx), ev); aerr != nil {
		g.d.Logger.ErrorContext(ctx, "cannot record the gateway reload in the audit log", "err", aerr)
	}
}
