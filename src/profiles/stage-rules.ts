import { readFileSync } from "node:fs";
import { defaultVocabulary } from "../../pipelines/event-names";
import { defaultStageRules, mergeStageRules, type StageRules } from "../../pipelines/lifecycle-stage";
import { ConfigError, type Config } from "../config";

/** The default stage mapping, extended by LIFELINE_STAGE_RULES_FILE when set. */
export function loadStageRules(config: Pick<Config, "LIFELINE_STAGE_RULES_FILE">): StageRules {
  if (!config.LIFELINE_STAGE_RULES_FILE) return defaultStageRules;
  try {
    const text = readFileSync(config.LIFELINE_STAGE_RULES_FILE, "utf8");
    return mergeStageRules(defaultStageRules, JSON.parse(text), defaultVocabulary);
  } catch (err) {
    throw new ConfigError(`fix these settings:\n  LIFELINE_STAGE_RULES_FILE (${config.LIFELINE_STAGE_RULES_FILE}): ${(err as Error).message}`);
  }
}
