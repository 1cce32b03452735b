import { totalArea, type Shape } from './shapes';

const shapes: Shape[] = [
  { kind: 'rectangle', rect: { width: 3, height: 4 } },
  { kind: 'circle', circle: { radius: 2 } },
];

console.log('total area', totalArea(shapes));
