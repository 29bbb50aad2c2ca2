import { ModelfabValidationError } from '../core';
import { ModelFileError } from './errors';
import { inspectModel } from './inspect-model';
import { type ModelInfo } from './model-info';

/**
 * `inspectModel` for a construct: a model file error becomes a validation error that names the
 * construct path and the `model` prop, keeping the file error's own message (path and fix).
 */
export function inspectModelFor(constructPath: string, modelPath: string): ModelInfo {
  try {
    return inspectModel(modelPath);
  } catch (error) {
    if (error instanceof ModelFileError) {
      throw new ModelfabValidationError(constructPath, 'model', `model: ${error.message}`);
    }
    throw error;
  }
}
