-- Schema 5: replacing an order (issue 12) is a run input like a cancel, logged as kind 'replace'.

ALTER TABLE run_inputs DROP CONSTRAINT run_inputs_kind_check;
ALTER TABLE run_inputs ADD CONSTRAINT run_inputs_kind_check
  CHECK (kind IN ('start', 'orders', 'cancel', 'replace', 'pause', 'resume', 'stop', 'strategy_error'));
