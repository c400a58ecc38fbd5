// The package's entry point (`import { SessionClient, runStrategy } from 'simutrador'`): the WebSocket SDK,
// the strategy runner and the wire types they speak. The typed REST client is `simutrador/client`.
export * from './session-client.js'
export { runStrategy, isStrategyError } from './strategy-runner.js'
export type { Strategy, StrategyContext, StrategyOrder, RunStrategyOptions, StrategyRunResult } from './strategy-runner.js'
export type { CreateSessionBody, Session, SessionState, SessionList } from '../schemas/sessions.js'
export type { AccountSnapshot, ExecutionReport, OrderRequest, OrderUpdate, SimulationCompleteData, SimulationResults, StartSimulationData, TickData } from '../schemas/simulation.js'
