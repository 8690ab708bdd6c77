"""PowerCRM's Dagster definitions: `dagster dev -m orchestration.definitions` (see docs/orchestration.md).

Thin wiring: every step calls the same package functions as `powercrm run` (loader, dbt build,
quality gate, publish) on the same files, under the same warehouse lock.
"""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from orchestration.automation import landing_sensor, nightly_job, nightly_schedule
from orchestration.dbt_models import dbt_models, dbt_resource
from orchestration.publish_asset import published_powercrm
from orchestration.quality_checks import quality_gate
from orchestration.raw_assets import raw_extracts
from orchestration.resources import PowerCRMResource

defs = Definitions(
    assets=[raw_extracts, dbt_models, published_powercrm],
    asset_checks=[quality_gate],
    jobs=[nightly_job],
    schedules=[nightly_schedule],
    sensors=[landing_sensor],
    resources={"powercrm": PowerCRMResource.from_env(), "dbt": dbt_resource()},
    executor=in_process_executor,
)
