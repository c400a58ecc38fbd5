// Every $id'd wire schema, in dependency order: registered with app.addSchema (so they appear under
// components.schemas in openapi.yaml) and passed to the WebSocket validators as references.
import type { TSchema } from '@sinclair/typebox'
import { ErrorCode, ErrorResponse } from './errors.js'
import { Plan, PlanLimits } from './common.js'
import { authSchemas } from './auth.js'
import { Health } from './health.js'
import { wsGatewaySchemas } from './ws-messages.js'
import { marketDataSchemas } from './market-data.js'
import { sessionSchemas } from './sessions.js'
import { simulationSchemas } from './simulation.js'
import { simulationControlSchemas } from './simulation-control.js'
import { equityHistorySchemas } from './equity-history.js'

export const allSchemas: TSchema[] = [
  ErrorCode,
  ErrorResponse,
  Plan,
  PlanLimits,
  ...marketDataSchemas,
  ...sessionSchemas,
  ...simulationSchemas,
  ...simulationControlSchemas,
  ...equityHistorySchemas,
  ...authSchemas,
  Health,
  ...wsGatewaySchemas
]
