/** @odoo-module **/

import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { graphView } from "@web/views/graph/graph_view";
import { GraphRenderer } from "@web/views/graph/graph_renderer";

/**
 * The scoring lab's lift chart: Odoo's graph with both axes titled and a
 * dashed line at lift 1.0 (the average won rate), the bar a tenth must clear.
 */
export class LeadScoringLiftGraphRenderer extends GraphRenderer {
    getScaleOptions() {
        const scales = super.getScaleOptions();
        if (scales.x && scales.y) {
            scales.x.title = {
                display: true,
                text: _t("Tenth of the newest outcomes, highest scores first"),
                color: scales.y.title?.color,
            };
            scales.y.title = {
                ...scales.y.title,
                display: true,
                text: _t("Lift (1.0 = average won rate)"),
            };
        }
        return scales;
    }

    getChartConfig() {
        const config = super.getChartConfig();
        const { measure, mode } = this.model.metaData;
        const datasets = config.data?.datasets || [];
        if (measure === "lift" && mode !== "pie" && datasets.length) {
            const labels = config.data.labels;
            datasets.push({
                type: "line",
                label: _t("Average (1.0)"),
                data: labels.map(() => 1),
                trueLabels: datasets[0].trueLabels || labels,
                borderColor: "#6c757d",
                backgroundColor: "transparent",
                borderDash: [6, 4],
                borderWidth: 2,
                pointRadius: 0,
                pointHoverRadius: 0,
                fill: false,
                order: -1,
            });
        }
        return config;
    }
}

registry.category("views").add("lead_scoring_lift_graph", {
    ...graphView,
    Renderer: LeadScoringLiftGraphRenderer,
});
