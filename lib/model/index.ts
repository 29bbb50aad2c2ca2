export * from './errors';
export * from './inspect-model';
export * from './inspect-model-for';
export * from './model-info';
export { elementTypeOfCode, FEEDABLE_ELEMENT_TYPES } from './element-types';
