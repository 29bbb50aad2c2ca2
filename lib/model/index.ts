export * from './errors';
export * from './inspect-model';
export * from './inspect-model-for';
export * from './model-info';
export { elementTypeOfCode } from './element-types';
